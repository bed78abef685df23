"""The admin's two languages: its words, numbers in Persian digits, dates in the Jalali calendar
(jdatetime) in the shop's time zone, and the shop's currency (Toman or Rial by name)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import jdatetime

from app.money import from_minor

LANGS = ("fa", "en")
_FA_DIGITS = str.maketrans("0123456789,", "۰۱۲۳۴۵۶۷۸۹٬")
_CURRENCY_NAMES = {"IRR": {"fa": "ریال", "en": "Rial"}, "IRT": {"fa": "تومان", "en": "Toman"}}

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "admin": "Vafa club admin",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "store": "Store address",
        "email": "E-mail",
        "password": "Password",
        "overview": "Overview",
        "members": "Members",
        "jobs": "Failed jobs and webhooks",
        "settings": "Settings",
        "search": "Search",
        "search_hint": "E-mail, name or customer id",
        "customer_id": "Customer id",
        "name": "Name",
        "available": "Available",
        "pending": "Pending",
        "held": "Set aside",
        "lifetime": "Earned in all",
        "tier": "Tier",
        "ledger": "Ledger lines",
        "when": "When",
        "points": "Points",
        "reason": "Reason",
        "kind": "Kind",
        "adjust": "Adjust points",
        "adjust_hint": "Positive adds, negative removes; the reason is shown to the member.",
        "save": "Save",
        "no_results": "No member matches.",
        "members_count": "Members",
        "outstanding": "Points outstanding",
        "redeemed": "Points redeemed",
        "expired": "Points expired",
        "issued": "Points issued",
        "redemptions": "Redemptions",
        "status": "Status",
        "code": "Code",
        "language": "Language",
        "retry": "Retry",
        "topic": "Topic",
        "error": "Error",
        "failed_jobs": "Failed jobs",
        "rejected_webhooks": "Rejected webhooks",
        "nothing": "Nothing here.",
        "adjusted": "Adjusted.",
        "adjust_invalid": "Give a whole number of points other than 0, and a reason.",
        "adjust_too_big": "One adjustment moves at most {max} points.",
        "adjust_conflict": "This form was saved already with other values; nothing changed. "
        "Reload the page to make a new adjustment.",
        "link_title": "Sign in with your link",
        "link_hint": "The link signs you in once, within 15 minutes of being made.",
        "retried": "Queued again.",
        "not_found": "No such member.",
        "skip": "Skip to content",
        "export_members": "Download members (CSV)",
        "rewards": "Rewards",
        "add_reward": "Add a reward",
        "value": "Value",
        "value_hint": "Value (minor units off; 1–100 for a percentage)",
        "points_cost": "Points it costs",
        "min_order": "Minimum order (minor units)",
        "product_id": "Product id (free product)",
        "code_valid_days": "Days the code is valid",
        "min_points": "Fewest points (points to money)",
        "max_points": "Most points (points to money)",
        "change": "Change",
        "active": "Active",
        "inactive": "Inactive",
        "activate": "Activate",
        "deactivate": "Deactivate",
        "kind_amount_off": "Amount off",
        "kind_percent_off": "Percent off",
        "kind_free_shipping": "Free shipping",
        "kind_free_product": "Free product",
        "kind_points_to_money": "Points to money",
        "status_pending": "Pending",
        "status_issued": "Issued",
        "status_used": "Used",
        "status_failed": "Failed",
        "status_expired": "Expired",
        "status_cancelled": "Cancelled",
        "last_30_days": "The last 30 days",
        "members_joined": "Members joined",
        "export_ledger": "Download the ledger (CSV)",
        "segments": "Segments",
        "segment": "Segment",
        "segment_members": "Members",
        "segment_rfm": "RFM",
        "segment_own": "The shop's own",
        "segments_refreshed": "Last refreshed",
        "segments_never": "Not refreshed yet: the worker refreshes segments daily.",
    },
    "fa": {
        "admin": "مدیریت باشگاه وفا",
        "sign_in": "ورود",
        "sign_out": "خروج",
        "store": "نشانی فروشگاه",
        "email": "ایمیل",
        "password": "گذرواژه",
        "overview": "نمای کلی",
        "members": "اعضا",
        "jobs": "کارها و وب‌هوک‌های ناموفق",
        "settings": "تنظیمات",
        "search": "جستجو",
        "search_hint": "ایمیل، نام یا شناسه مشتری",
        "customer_id": "شناسه مشتری",
        "name": "نام",
        "available": "قابل استفاده",
        "pending": "در انتظار",
        "held": "کنار گذاشته",
        "lifetime": "کل امتیاز کسب‌شده",
        "tier": "سطح",
        "ledger": "ردیف‌های دفتر",
        "when": "زمان",
        "points": "امتیاز",
        "reason": "دلیل",
        "kind": "نوع",
        "adjust": "تغییر امتیاز",
        "adjust_hint": "عدد مثبت اضافه و منفی کم می‌کند؛ دلیل به عضو نشان داده می‌شود.",
        "save": "ذخیره",
        "no_results": "عضوی پیدا نشد.",
        "members_count": "اعضا",
        "outstanding": "امتیاز باقی‌مانده",
        "redeemed": "امتیاز خرج‌شده",
        "expired": "امتیاز منقضی",
        "issued": "امتیاز صادرشده",
        "redemptions": "جایزه‌های گرفته‌شده",
        "status": "وضعیت",
        "code": "کد",
        "language": "زبان",
        "retry": "تلاش دوباره",
        "topic": "موضوع",
        "error": "خطا",
        "failed_jobs": "کارهای ناموفق",
        "rejected_webhooks": "وب‌هوک‌های ردشده",
        "nothing": "چیزی نیست.",
        "adjusted": "ثبت شد.",
        "adjust_invalid": "تعداد امتیاز (عدد صحیح غیر صفر) و دلیل را وارد کنید.",
        "adjust_too_big": "هر تغییر دستی حداکثر {max} امتیاز است.",
        "adjust_conflict": "این فرم پیش‌تر با مقادیر دیگری ثبت شده است؛ چیزی تغییر نکرد. "
        "برای تغییر تازه صفحه را دوباره بارگیری کنید.",
        "link_title": "ورود با پیوند",
        "link_hint": "این پیوند یک بار و تا ۱۵ دقیقه پس از ساخته‌شدن کار می‌کند.",
        "retried": "دوباره در صف قرار گرفت.",
        "not_found": "چنین عضوی نیست.",
        "skip": "رفتن به محتوا",
        "export_members": "دریافت فهرست اعضا (CSV)",
        "rewards": "جایزه‌ها",
        "add_reward": "افزودن جایزه",
        "value": "مقدار",
        "value_hint": "مقدار (تخفیف به کوچک‌ترین واحد پول؛ برای درصد ۱ تا ۱۰۰)",
        "points_cost": "امتیاز لازم",
        "min_order": "حداقل مبلغ خرید",
        "product_id": "شناسه محصول (محصول رایگان)",
        "code_valid_days": "روزهای اعتبار کد",
        "min_points": "کمترین امتیاز (تبدیل امتیاز به پول)",
        "max_points": "بیشترین امتیاز (تبدیل امتیاز به پول)",
        "change": "تغییر",
        "active": "فعال",
        "inactive": "غیرفعال",
        "activate": "فعال کردن",
        "deactivate": "غیرفعال کردن",
        "kind_amount_off": "مبلغ تخفیف",
        "kind_percent_off": "درصد تخفیف",
        "kind_free_shipping": "ارسال رایگان",
        "kind_free_product": "محصول رایگان",
        "kind_points_to_money": "تبدیل امتیاز به پول",
        "status_pending": "در انتظار",
        "status_issued": "صادر شده",
        "status_used": "استفاده شده",
        "status_failed": "ناموفق",
        "status_expired": "منقضی",
        "status_cancelled": "لغو شده",
        "last_30_days": "۳۰ روز گذشته",
        "members_joined": "اعضای تازه",
        "export_ledger": "دریافت دفتر امتیاز (CSV)",
        "segments": "بخش‌ها",
        "segment": "بخش",
        "segment_members": "اعضا",
        "segment_rfm": "RFM",
        "segment_own": "تعریف فروشگاه",
        "segments_refreshed": "آخرین به‌روزرسانی",
        "segments_never": "هنوز به‌روز نشده: بخش‌ها هر روز به‌روز می‌شوند.",
    },
}


def number(value: int, lang: str) -> str:
    text = f"{value:,}"
    return text.translate(_FA_DIGITS) if lang == "fa" else text


def when(value: datetime, lang: str, timezone: str) -> str:
    local = value.astimezone(ZoneInfo(timezone))
    if lang == "fa":
        jalali = jdatetime.datetime.fromgregorian(datetime=local)
        return str(jalali.strftime("%Y/%m/%d %H:%M")).translate(_FA_DIGITS)
    return local.strftime("%Y-%m-%d %H:%M")


def money(minor: int, exponent: int, currency: str | None, lang: str) -> str:
    amount = from_minor(minor, exponent)
    text = f"{amount:,.{exponent}f}"
    if lang == "fa":
        text = text.translate(_FA_DIGITS).replace(".", "٫")
    name = _CURRENCY_NAMES.get(currency or "", {}).get(lang, currency or "")
    return f"{text} {name}".strip()
