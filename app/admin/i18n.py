"""The admin's two languages: its words, numbers in Persian digits, dates in the Jalali calendar
(jdatetime) in the shop's time zone, and the shop's currency (Toman or Rial by name)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
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
        "reports": "Reports",
        "report_points": "Points issued, redeemed and expired",
        "report_members": "Members and active members",
        "report_purchases": "Repeat purchases and order value: members against non-members",
        "report_redemptions": "Revenue influenced by redemptions",
        "report_tiers": "Lifetime value by tier",
        "report_cohorts": "Retention by join month",
        "report_campaigns": "Campaign effect",
        "download_csv": "Download CSV",
        "period_from": "From",
        "period_to": "To",
        "show": "Show",
        "period_invalid": "Give the period as two dates, the first not after the second, "
        "at most three years apart.",
        "no_tier": "No tier",
        "other_orders": "Other orders",
        "col_day": "Day",
        "col_month": "Month",
        "col_cohort": "Joined in",
        "col_tier": "Tier",
        "col_campaign": "Campaign",
        "col_points_issued": "Issued",
        "col_points_adjusted": "Adjusted",
        "col_points_redeemed": "Redeemed",
        "col_points_expired": "Expired",
        "col_members": "Members",
        "col_members_joined": "Joined",
        "col_active_members": "Active",
        "col_active_share": "Active share",
        "col_member_customers": "Buying members",
        "col_member_repeat_rate": "Members' repeat rate",
        "col_member_aov_minor": "Members' average order",
        "col_guest_customers": "Buying non-members",
        "col_guest_repeat_rate": "Non-members' repeat rate",
        "col_guest_aov_minor": "Non-members' average order",
        "col_orders": "Orders",
        "col_revenue_minor": "Revenue",
        "col_orders_redeeming": "Orders with a reward",
        "col_revenue_redeeming_minor": "Their revenue",
        "col_revenue_redeeming_share": "Share of revenue",
        "col_clv_minor": "Revenue per member",
        "col_points": "Points",
        "col_points_per_order": "Points per order",
        "col_aov_minor": "Average order",
        "total_redemption_rate": "Redemption rate",
        "total_outstanding_points": "Points outstanding",
        "total_liability_minor": "Liability",
        "total_members": "Members",
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
        "reports": "گزارش‌ها",
        "report_points": "امتیاز صادرشده، خرج‌شده و منقضی",
        "report_members": "اعضا و اعضای فعال",
        "report_purchases": "خرید دوباره و میانگین سفارش: اعضا در برابر غیراعضا",
        "report_redemptions": "درآمد سفارش‌های با جایزه",
        "report_tiers": "ارزش طول عمر مشتری به تفکیک سطح",
        "report_cohorts": "ماندگاری به تفکیک ماه عضویت",
        "report_campaigns": "اثر کمپین‌ها",
        "download_csv": "دریافت CSV",
        "period_from": "از",
        "period_to": "تا",
        "show": "نمایش",
        "period_invalid": "بازه را با دو تاریخ بدهید؛ اولی پس از دومی نباشد و فاصله حداکثر سه سال.",
        "no_tier": "بدون سطح",
        "other_orders": "سفارش‌های دیگر",
        "col_day": "روز",
        "col_month": "ماه",
        "col_cohort": "ماه عضویت",
        "col_tier": "سطح",
        "col_campaign": "کمپین",
        "col_points_issued": "صادرشده",
        "col_points_adjusted": "تغییر دستی",
        "col_points_redeemed": "خرج‌شده",
        "col_points_expired": "منقضی",
        "col_members": "اعضا",
        "col_members_joined": "عضو تازه",
        "col_active_members": "فعال",
        "col_active_share": "سهم فعال",
        "col_member_customers": "اعضای خریدار",
        "col_member_repeat_rate": "خرید دوباره اعضا",
        "col_member_aov_minor": "میانگین سفارش اعضا",
        "col_guest_customers": "غیراعضای خریدار",
        "col_guest_repeat_rate": "خرید دوباره غیراعضا",
        "col_guest_aov_minor": "میانگین سفارش غیراعضا",
        "col_orders": "سفارش‌ها",
        "col_revenue_minor": "درآمد",
        "col_orders_redeeming": "سفارش با جایزه",
        "col_revenue_redeeming_minor": "درآمد آن‌ها",
        "col_revenue_redeeming_share": "سهم از درآمد",
        "col_clv_minor": "درآمد به ازای هر عضو",
        "col_points": "امتیاز",
        "col_points_per_order": "امتیاز هر سفارش",
        "col_aov_minor": "میانگین سفارش",
        "total_redemption_rate": "نرخ خرج امتیاز",
        "total_outstanding_points": "امتیاز باقی‌مانده",
        "total_liability_minor": "بدهی",
        "total_members": "اعضا",
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


def digits(text: str, lang: str) -> str:
    """Persian digits (and separators) in fa; the text as it is in en."""
    return text.translate(_FA_DIGITS).replace(".", "٫") if lang == "fa" else text


def day(value: date, lang: str) -> str:
    """A calendar day: Jalali in fa."""
    if lang == "fa":
        return digits(str(jdatetime.date.fromgregorian(date=value).strftime("%Y/%m/%d")), lang)
    return value.isoformat()


def percent(share: str | None, lang: str) -> str:
    """A share of 1 (a decimal string) as a percentage with one decimal; "—" for none."""
    if share is None:
        return "—"
    text = f"{(Decimal(share) * 100).quantize(Decimal('0.1'))}%"
    return digits(text, lang).replace("%", "٪") if lang == "fa" else text
