from django.urls import include, path

from shop.api import cart, groupbuy, orders, privacy, products

urlpatterns = [
    path("products/<int:product_id>/", products.ProductDetailView.as_view(), name="product-detail"),
    path("products/<int:product_id>/offers", products.ProductOffersView.as_view(), name="product-offers"),
    path("cart/items/", cart.CartView.as_view(), name="cart"),
    path("cart/items/<int:item_id>/", cart.CartItemView.as_view(), name="cart-item"),
    path("cart/hints", cart.CartHintsView.as_view(), name="cart-hints"),
    path("cart/select-all", cart.CartSelectAllView.as_view(), name="cart-select-all"),
    path("checkout/preview", orders.CheckoutPreviewView.as_view(), name="checkout-preview"),
    path("orders/", orders.OrderListView.as_view(), name="order-list"),
    path("orders/counts", orders.OrderCountsView.as_view(), name="order-counts"),
    path("orders/<number:order_no>/", orders.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<number:order_no>/pay", orders.OrderPayView.as_view(), name="order-pay"),
    path("orders/<number:order_no>/cancel", orders.OrderCancelView.as_view(), name="order-cancel"),
    path("orders/<number:order_no>/confirm-receipt", orders.OrderConfirmReceiptView.as_view(),
         name="order-confirm-receipt"),
    path("me/export", privacy.MeExportView.as_view(), name="me-export"),
    *groupbuy.urlpatterns,
    path("", include("shop.api.browsing")),
    path("", include("shop.api.shipping")),
    path("", include("shop.api.aftersales")),
    path("", include("shop.api.reviews")),
    path("", include("shop.api.search")),
    path("", include("shop.api.pages")),
]
