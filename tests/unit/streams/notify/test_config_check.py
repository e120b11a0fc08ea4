import base64

import pytest

from schemas.alert_config import AlertsConfig, Receiver
from streams.notify.config_check import AlertingConfigError, check_alerting

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def config(**receiver) -> AlertsConfig:
    return AlertsConfig(receivers=(Receiver(name="oncall", type="webhook", **receiver),))


def test_a_receiver_with_everything_it_needs_passes(monkeypatch):
    monkeypatch.setenv("LYTTE_T_URL", "https://hooks.example/abc")
    monkeypatch.setenv("LYTTE_T_SECRET", f"{SECRET} {SECRET}")
    check_alerting(config(url_env="LYTTE_T_URL", secret_env="LYTTE_T_SECRET"), "watch.yaml")


def test_a_missing_variable_names_the_receiver_and_never_the_value(monkeypatch):
    monkeypatch.delenv("LYTTE_T_URL", raising=False)
    with pytest.raises(
        AlertingConfigError, match=r"watch.yaml: alerts.receivers.0 \(oncall\): .*LYTTE_T_URL is not set"
    ):
        check_alerting(config(url_env="LYTTE_T_URL"), "watch.yaml")
    monkeypatch.setenv("LYTTE_T_URL", "ftp://token@files.example/x")
    with pytest.raises(AlertingConfigError, match="must be http") as exc:
        check_alerting(config(url_env="LYTTE_T_URL"), "watch.yaml")
    assert "token" not in str(exc.value)


def test_a_secret_that_is_not_a_standard_webhooks_secret_is_refused(monkeypatch):
    monkeypatch.setenv("LYTTE_T_SECRET", f"{SECRET} not-base64!")
    with pytest.raises(AlertingConfigError, match="signing secret 2 of 2 is not a Standard Webhooks secret"):
        check_alerting(config(url="http://127.0.0.1/hook", secret_env="LYTTE_T_SECRET"), "watch.yaml")


def test_an_empty_allowlist_entry_is_refused():
    with pytest.raises(AlertingConfigError, match=r"alerts\.allow_hosts"):
        check_alerting(AlertsConfig(allow_hosts=(" ",)), "watch.yaml")
