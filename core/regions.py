"""China's province-level divisions by their short names, and the one spelling of a province.

Members and addresses spell a province as they like: "广东省" from an address picker, "广东" typed by
hand, "Guangdong" from WeChat's profile in English. Reports count them as one and colour the map,
whose features are named by the short name (analytics/static/analytics/vendor/README.md).
"""

from __future__ import annotations

# The short name starts every Chinese spelling of the division ("内蒙古自治区", "香港特别行政区").
PROVINCES = (
    "北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽",
    "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西",
    "甘肃", "青海", "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门",
)
# WeChat's profile in English (lang=en) spells provinces in pinyin or their English names.
_LATIN = {
    "beijing": "北京", "tianjin": "天津", "shanghai": "上海", "chongqing": "重庆", "hebei": "河北",
    "shanxi": "山西", "liaoning": "辽宁", "jilin": "吉林", "heilongjiang": "黑龙江", "jiangsu": "江苏",
    "zhejiang": "浙江", "anhui": "安徽", "fujian": "福建", "jiangxi": "江西", "shandong": "山东",
    "henan": "河南", "hubei": "湖北", "hunan": "湖南", "guangdong": "广东", "hainan": "海南",
    "sichuan": "四川", "guizhou": "贵州", "yunnan": "云南", "shaanxi": "陕西", "gansu": "甘肃",
    "qinghai": "青海", "taiwan": "台湾", "innermongolia": "内蒙古", "neimenggu": "内蒙古", "guangxi": "广西",
    "tibet": "西藏", "xizang": "西藏", "ningxia": "宁夏", "xinjiang": "新疆", "hongkong": "香港",
    "xianggang": "香港", "macau": "澳门", "macao": "澳门", "aomen": "澳门",
}


def province_short(name: str) -> str | None:
    """The short name of the province `name` spells ("广东省", "广东", "Guangdong" → "广东"), or None."""
    text = (name or "").strip()
    found = next((short for short in PROVINCES if text.startswith(short)), None)
    if found is not None:
        return found
    return _LATIN.get("".join(text.lower().split()).replace("province", "").replace("sar", ""))
