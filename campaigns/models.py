"""Coupons, 满减, flash sales and the rest arrive with the campaigns issue."""
