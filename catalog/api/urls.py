from django.urls import path

from catalog.api import views

urlpatterns = [
    path("categories/", views.CategoryTreeView.as_view(), name="category-tree"),
    path("products/", views.ProductListView.as_view(), name="product-list"),
]
