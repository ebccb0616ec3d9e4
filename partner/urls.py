from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import apis
from .openapi import spectacular_settings

app_name = "partner"

urlpatterns = [
    path("", include("partner.api_urls")),
    path("schema/", SpectacularAPIView.as_view(urlconf="partner.api_urls",
                                               custom_settings=spectacular_settings()),
         name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="partner:schema"), name="docs"),
    # Goods, goods orders, image upload (the shop issue) and anything else: JSON notFound.
    re_path(r"^.*$", apis.NotFoundApi.as_view(), name="not-found"),
]
