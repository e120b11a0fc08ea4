pytest_plugins = [
    "tests.fixtures.factories",
    "tests.fixtures.services",
    "tests.fixtures.workers",
    "tests.fixtures.browser",
    "tests.fixtures.receivers",
]
