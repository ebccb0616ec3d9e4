from django.utils import translation

from loyalty.exceptions import InsufficientPoints, RedemptionCapExceeded


def test_errors_speak_the_users_language():
    error = InsufficientPoints(available="10.00")
    with translation.override("ru"):
        assert str(error) == "Недостаточно баллов: доступно 10.00."
    with translation.override("en"):
        assert str(error) == "Not enough points: 10.00 available."
    with translation.override("ru"):
        assert "не больше 5.00" in str(RedemptionCapExceeded(cap="5.00"))
