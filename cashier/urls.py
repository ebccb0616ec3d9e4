from django.urls import path

from . import views

app_name = "cashier"

urlpatterns = [
    path("", views.till, name="till"),
    path("login/", views.TillLoginView.as_view(), name="login"),
    path("logout/", views.TillLogoutView.as_view(), name="logout"),
    path("search/", views.search, name="search"),
    path("customers/<int:customer_id>/", views.customer, name="customer"),
    path("customers/<int:customer_id>/calc/", views.calc, name="calc"),
    path("customers/<int:customer_id>/sell/", views.sell, name="sell"),
    path("customers/<int:customer_id>/review/", views.review, name="review"),
    path("phone/", views.sell_to_phone, name="sell_to_phone"),
    path("register/", views.register, name="register"),
    path("shift/", views.shift, name="shift"),
    path("operations/<int:operation_id>/", views.operation, name="operation"),
    path("operations/<int:operation_id>/refund/", views.refund, name="refund"),
]
