"""The reference's endpoints (what the OpenAPI document describes), without the docs pages."""

from django.urls import path

from . import apis

urlpatterns = [
    path("settings", apis.SettingsApi.as_view(), name="settings"),
    path("customers", apis.CustomerListApi.as_view(), name="customers"),
    path("customers/find", apis.CustomerFindApi.as_view(), name="customers-find"),
    path("customers/<int:id>", apis.CustomerDetailApi.as_view(), name="customer"),
    path("customers/<int:id>/tags", apis.CustomerTagsApi.as_view(), name="customer-tags"),
    path("operations", apis.OperationListApi.as_view(), name="operations"),
    path("operations/calc", apis.OperationCalcApi.as_view(), name="operations-calc"),
    path("operations/reward", apis.OperationRewardApi.as_view(), name="operations-reward"),
    path("operations/<int:id>", apis.OperationDetailApi.as_view(), name="operation"),
    path("operations/<int:id>/refund", apis.OperationRefundApi.as_view(), name="operation-refund"),
    path("tags", apis.TagListApi.as_view(), name="tags"),
]
