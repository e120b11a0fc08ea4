"""Headless Chromium through chromedriver (Debian's chromium and chromium-driver), as the browser tests and the
wall bench open it. Selenium is imported here only, so that importing the bench's other modules needs no browser."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

# Without the background-networking flags Chromium keeps dialling Google's hosts, which this closed
# network refuses; they also make every start the same.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def new_chrome(user_data_dir: Path, window: tuple[int, int] = (1600, 1000), extra_flags: Sequence[str] = ()):
    """A headless Chromium with its own profile directory, this window size, and the browser console log kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in (*CHROMIUM_FLAGS, f"--window-size={window[0]},{window[1]}", *extra_flags):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data_dir}")
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
