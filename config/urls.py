from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from cashier.views import home

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("partner/v2/", include("partner.urls")),
    path("till/", include("cashier.urls")),
    path("", include("referrals.urls")),
    path("", home, name="home"),
]

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
