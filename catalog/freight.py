"""Freight: what shipping costs for a set of cart lines, from the products' freight templates.

Pure reads of FreightTemplate and FreightRule, one query a call; checkout hands in plain values
per line (the product's template, what the line still costs after discounts, the units), so the
same rules price a preview, an order and anything else that ships.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Q

from catalog.errors import NotDeliverable
from catalog.models import FreightRule, FreightTemplate


@dataclass(frozen=True)
class FreightLine:
    template_id: int | None  # the product's freight template; None ships under the default one
    payable_fen: int  # the goods amount still payable for the line (after discounts)
    quantity: int


def freight_for(lines: Sequence[FreightLine], *, province: str) -> int:
    """Freight summed over the freight templates of the lines' products.

    Per template: free when the goods still payable reach its threshold; otherwise the rule
    for the province (or the template's catch-all rule) charges first piece + each extra block.
    Raises NotDeliverable when that rule says the province is not served.
    """
    if not lines:
        return 0
    named = {line.template_id for line in lines if line.template_id}
    # One query: the rules with their templates. A template without a rule charges nothing
    # whatever its threshold, so leaving it out of the answer changes no total.
    templates: dict[int, FreightTemplate] = {}
    rules: dict[int, list[FreightRule]] = {}
    for row in (FreightRule.objects.filter(Q(template__is_default=True) | Q(template_id__in=named))
                .select_related("template").order_by("id")):
        templates.setdefault(row.template_id, row.template)
        rules.setdefault(row.template_id, []).append(row)
    default = next((t for t in templates.values() if t.is_default), None)
    groups: dict[int | None, list[FreightLine]] = {}
    for line in lines:
        template_id = line.template_id or (default.pk if default else None)
        groups.setdefault(template_id, []).append(line)
    total = 0
    for template_id, group in groups.items():
        template = templates.get(template_id) if template_id else None
        if template is None:
            continue  # no template configured: free shipping
        payable = sum(line.payable_fen for line in group)
        if template.free_threshold_fen is not None and payable >= template.free_threshold_fen:
            continue
        rule = _rule_for(rules.get(template.pk, []), province)
        if rule is None:
            continue
        if not rule.is_deliverable:
            raise NotDeliverable(detail={"province": province})
        count = sum(line.quantity for line in group)
        extra_blocks = -(-max(0, count - rule.first_count) // rule.extra_count)
        total += rule.first_fee_fen + extra_blocks * rule.extra_fee_fen
    return total


def _rule_for(rules: list[FreightRule], province: str) -> FreightRule | None:
    for rule in rules:
        if province and province in rule.provinces:
            return rule
    return next((rule for rule in rules if not rule.provinces), None)
