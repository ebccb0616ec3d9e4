from django.urls import path

from . import views

app_name = "referrals"

urlpatterns = [
    path("join/<str:code>/", views.join, name="join"),
]
