"""What a question tells us about the asker: age, categories wanted, residency, conditions.

Rules, not a model: the phrasings are few and regular ("我28歲", "今年46", "民國85年次",
"設籍高雄"), and a rule explains itself in the reply ("你今年46歲…").
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from bot.nlu.normalise import normalise_text

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "兩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}  # noqa: E501 - one pattern per line reads best


def _cn_number(s: str) -> int | None:
    """二十八 → 28, 四十 → 40, 十九 → 19 (ages only, so up to 99)."""
    if s.isdigit():
        return int(s)
    if "十" in s:
        tens, _, ones = s.partition("十")
        t = _CN_DIGITS.get(tens, None) if tens else 1
        o = _CN_DIGITS.get(ones, None) if ones else 0
        return None if t is None or o is None else t * 10 + o
    return _CN_DIGITS.get(s) if len(s) == 1 else None


_NUM = r"(\d{1,2}|[一二三四五六七八九]?十[一二三四五六七八九]?)"
_AGE_PATTERNS = [
    re.compile(_NUM + r"\s*(?:歲|岁|足歲)"),
    re.compile(r"今年\s*" + _NUM + r"(?![\d年月日天個])"),
    re.compile(r"(?i)\b(?:i'?m|i am|aged?)\s*(\d{1,2})\b"),
    re.compile(r"(?i)\b(\d{1,2})\s*(?:years?[ -]old|yo|y/o)\b"),
]
# 1996年次 (ROC 85 already turned into 1996 by normalise_text), 85年次, 1996年生, born in 1996
_BIRTH_YEAR = re.compile(r"(?<!\d)(\d{2,4})\s*年\s*(?:次|生|出生)|(?i:born in)\s*(\d{4})")
_DECADE = re.compile(r"(?<!\d)(\d)\s*年級生")  # 八年級生 is handled via _cn_number below
_GRADE = re.compile(r"(大[一二三四]|大學|研究所|研究生|碩[一二士]|博士班|高[一二三]|高中|高職|國中)")

CATEGORY_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("startup_loan", re.compile(r"(?i)貸款|借錢|借款|融資|週轉金|周轉金|利息|loan|borrow")),
    ("startup_grant", re.compile(r"(?i)補助|補貼|獎勵金|創業金|創業基金|經費|資金|grant|subsid|funding|SBIR|研發")),
    ("internship", re.compile(r"(?i)實習|intern")),
    (
        "training",
        re.compile(
            r"(?i)學寫?程式|學.{0,6}技能|課程|職訓|訓練|培訓|進修|學(?:AI|設計|行銷|剪輯)|training|course|bootcamp|learn"
        ),
    ),
    (
        "employment",
        re.compile(r"(?i)找工作|求職|就業|正職|全職|工作機會|失業|待業|沒工作|面試|徵人|僱用|雇用|job|employ|hiring"),
    ),
    ("space", re.compile(r"(?i)空間|場地|辦公室|練團|排練|進駐|工作室|店面|免租|cowork|space|office|venue")),
    ("overseas", re.compile(r"(?i)出國|海外|國外|打工度假|遊學|交換|壯遊|abroad|overseas|working holiday")),
    ("clubs_participation", re.compile(r"(?i)社團|辦活動|公共參與|青年委員|政策|提案|參與市政|club|council|volunteer")),
    (
        "consulting",
        re.compile(
            r"(?i)諮詢|請教|顧問|業師|輔導|找專家|找人問|履歷|職涯規劃|advice|advisor|mentor|consult|resume|\bCV\b"
        ),
    ),
    ("competition", re.compile(r"(?i)競賽|比賽|挑戰賽|pitch|competition|contest")),
    ("investment", re.compile(r"(?i)投資|募資|天使|入股|創投|增資|investor|investment|venture|equity")),
    (
        "housing",
        re.compile(
            r"(?i)租屋|租房|房租補|租金補|社宅|社會住宅|婚育宅|買房|購屋|房貸|新青安|住宅|housing|rent subsid|mortgage|home loan"  # noqa: E501 - one pattern per line reads best
        ),
    ),
]
_STARTUP = re.compile(
    r"(?i)創業|開店|開.{1,6}店|做生意|開公司|開業|擺攤|攤位|新創|品牌|start[- ]?up|start a business|open a"
)
_MONEY = re.compile(r"(?i)錢|補助|補貼|貸款|資金|經費|money|fund|grant|loan")

_RES_YES = re.compile(
    r"(?i)(?:設籍|戶籍(?:在|設在)?|籍設)\s*(?:在)?\s*高雄|高雄(?:市)?(?:市民|人)|registered in kaohsiung|kaohsiung resident"  # noqa: E501 - one pattern per line reads best
)
_RES_NO = re.compile(
    r"(?i)(?:設籍|戶籍(?:在|設在)?)\s*(?:在)?\s*(?!高雄)(台北|臺北|新北|桃園|台中|臺中|台南|臺南|屏東|嘉義|新竹|基隆|宜蘭|花蓮|台東|臺東|彰化|雲林|南投|苗栗|澎湖|金門|外縣市|外地)"
    r"|戶籍不在高雄|沒有設籍高雄|不是高雄人|外縣市|not (?:registered|resident) in kaohsiung"
)
_RES_MONTHS = re.compile(r"(?:設籍|戶籍).{0,6}?(\d{1,2})\s*(?:個)?月|(?:設籍|遷入).{0,6}?(半年|一年|兩年)")

_CONDITIONS: dict[str, re.Pattern[str]] = {
    "student": re.compile(
        r"(?i)學生|在學|大[一二三四](?![樓])|研究所|研究生|碩[一二]|高[一二三](?!雄)|高中生|高職|student|undergrad|college"
    ),
    "unemployed": re.compile(
        r"(?i)失業|待業|沒(?:有)?工作|離職|被裁|裁員|資遣|找不到工作|unemployed|laid off|out of work|jobless"
    ),
    "part_time": re.compile(r"(?i)兼職|打工|part[- ]time"),
    "female": re.compile(r"(?i)女生|女性|媽媽|婦女|我是女|woman|female|mother|\bmom\b"),
    "male": re.compile(r"(?i)男生|男性|我是男|爸爸|\bman\b|male|father"),
    "disability": re.compile(r"(?i)身障|身心障礙|殘障|障礙手冊|disab|wheelchair"),
    "indigenous": re.compile(r"(?i)原住民|原民|族人|部落|indigenous|aborig"),
    "employment_insurance": re.compile(r"(?i)就業保險|就保|勞保|employment insurance"),
    "employer": re.compile(
        r"(?i)我是老闆|雇主|僱主|我的公司要?(?:請人|徵人|僱用)|公司想(?:請|僱用|徵)|要請人|employer|hire"
    ),
    "organisation": re.compile(
        r"(?i)協會|基金會|團體|育成中心|學校(?:想|要)辦|我們學校|NGO|organi[sz]ation|association"
    ),
    "student_club": re.compile(r"(?i)社團|club"),
    # Who a sector programme is for: rank it low unless the asker says they are one (search.IDENTITY).
    "farmer": re.compile(r"(?i)青農|務農|從農|農民|農夫|種田|農場|果園|farm"),
    "hakka": re.compile(r"(?i)客家|客語|客庄|hakka"),
    "returning": re.compile(r"(?i)返鄉|回鄉|回家鄉|回老家|地方創生|移居|在地創生|home ?town|revitali[sz]"),
    "creator": re.compile(r"(?i)藝術家|畫家|作家|寫作|文學|創作者|插畫|artist|writer"),
    "parent": re.compile(r"(?i)小孩|孩子|子女|寶寶|育兒|懷孕|新生兒|生小孩|baby|kids?\b|children"),
    "employed": re.compile(
        r"(?i)上班族|在職|正職工作|我在上班|有工作|已就業|在公司上班|full[- ]time job|employed(?! ?$)"
    ),
    "founder": re.compile(
        r"(?i)已經?創業|創業(?:\d+|[一兩二三四五])年|剛開了|開了一[間家]|我的店|我的公司|已登記|已經開|自己開店|I run a|my (?:shop|company|business)"  # noqa: E501 - one pattern per line reads best
    ),
}
# The asker's situation, one word for the profile; a message that states one replaces the earlier.
STATUSES = ("founder", "student", "unemployed", "employed")


@dataclass
class Profile:
    age: int | None = None
    age_source: str = ""  # the words the age came from, quoted back in explanations
    categories: list[str] = field(default_factory=list)
    residency: bool | None = None  # True: 設籍高雄; False: registered elsewhere; None: unknown
    residency_months: int | None = None
    conditions: list[str] = field(default_factory=list)
    lang: str = "zh"
    text: str = ""  # the normalised (Traditional) text searched
    district: str | None = None  # 鳳山區: where they live or want to start
    status: str | None = None  # founder | student | unemployed | employed (STATUSES)
    topic: str = ""  # the last text that said what they look for: a later "我30歲" searches it again

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def merged(self, earlier: dict[str, Any] | None) -> Profile:
        """Fill what this message did not say from the conversation so far (slots)."""
        if not earlier:
            return self
        if self.age is None and earlier.get("age") is not None:
            self.age, self.age_source = int(earlier["age"]), earlier.get("age_source", "")
        if self.residency is None and earlier.get("residency") is not None:
            self.residency = bool(earlier["residency"])
            self.residency_months = self.residency_months or earlier.get("residency_months")
        if self.district is None and earlier.get("district"):
            self.district = str(earlier["district"])
        stated = self.status is not None
        if not stated and earlier.get("status") in STATUSES:
            self.status = earlier["status"]
        for c in earlier.get("conditions") or []:
            if c in STATUSES and stated:
                continue  # "我現在在上班了" replaces the earlier 失業
            if c not in self.conditions:
                self.conditions.append(c)
        if not self.categories and earlier.get("topic"):
            # "我30歲" after a search: the same search, with what they just told us.
            self.topic = str(earlier["topic"])
            self.categories = [c for c in earlier.get("categories") or [] if isinstance(c, str)]
        return self

    @property
    def query(self) -> str:
        """What is searched: this message, or with only facts about the asker, the earlier topic too."""
        return f"{self.topic} {self.text}".strip() if self.topic and self.topic != self.text else self.text

    def said(self) -> bool:
        """Did the message tell us anything about the asker (age, place, situation)?"""
        return bool(
            self.age is not None or self.residency is not None or self.district or self.status or self.conditions
        )


def _age(text: str, today: date) -> tuple[int | None, str]:
    for pat in _AGE_PATTERNS:
        for m in pat.finditer(text):
            n = _cn_number(m.group(1))
            if n is not None and 10 <= n <= 99:
                return n, m.group(0)
    m = _BIRTH_YEAR.search(text)
    if m:
        year = int(m.group(1) or m.group(2))
        if year < 200:  # ROC year (85年次 → 1996)
            year += 1911
        if 1920 <= year <= today.year - 10:
            return today.year - year, m.group(0)
    return None, ""


_DISTRICT_BEFORE = r"(?:住|在|住在|來自|設籍|搬到|回)"


def _district(text: str) -> str | None:
    """鳳山區, or 鳳山 after 住/在 ("在鳳山開早餐店"); a bare 三民 may be 三民路, so not that."""
    from bot.cases.places import DISTRICTS

    for d in DISTRICTS:
        base = d[:-1]
        if d in text or re.search(_DISTRICT_BEFORE + base + r"(?![路街一二三四五六七八九十])", text):
            return d
    return None


def _residency_months(text: str) -> int | None:
    m = _RES_MONTHS.search(text)
    if not m:
        return None
    if m.group(1):
        return int(m.group(1))
    return {"半年": 6, "一年": 12, "兩年": 24}[m.group(2)]


def understand(text: str, today: date | None = None, lang: str | None = None) -> Profile:
    today = today or date.today()
    norm = normalise_text(text or "")
    ascii_share = sum(ch.isascii() for ch in norm) / max(1, len(norm))
    prof = Profile(text=norm, lang=lang or ("en" if ascii_share > 0.8 else "zh"))
    prof.age, prof.age_source = _age(norm, today)
    prof.categories = [cat for cat, pat in CATEGORY_RULES if pat.search(norm)]
    # "想創業/開早餐店" without saying which kind of help: money of both kinds, plus advice.
    if _STARTUP.search(norm):
        if not _MONEY.search(norm) and not prof.categories:
            prof.categories = ["startup_grant", "startup_loan", "consulting", "space"]
        elif "employment" in prof.categories and not re.search(r"找工作|求職|job", norm):
            prof.categories.remove("employment")  # "失業想創業": the goal is a business, not a job
    # "補助/經費" alone is any money (a club's, an employer's, a trainee's): only with a
    # business in view does it mean a start-up grant (dev questions: 4 misses without this).
    if "startup_grant" in prof.categories and not (_STARTUP.search(norm) or re.search(r"(?i)SBIR|研發|專利", norm)):
        prof.categories.remove("startup_grant")
    # "店面租金" is a shop's rent: a business question, not housing.
    if "housing" in prof.categories and (_STARTUP.search(norm) or {"space", "startup_grant"} & set(prof.categories)):
        prof.categories.remove("housing")
    if _RES_NO.search(norm):
        prof.residency = False
    elif _RES_YES.search(norm):
        prof.residency = True
        prof.residency_months = _residency_months(norm)
    prof.conditions = [c for c, pat in _CONDITIONS.items() if pat.search(norm)]
    if "female" in prof.conditions and "male" in prof.conditions:
        prof.conditions.remove("male")  # "女生…男朋友": the asker is the first-person one
    if "student" not in prof.conditions and _GRADE.search(norm):
        prof.conditions.append("student")
    if "unemployed" in prof.conditions and "employed" in prof.conditions:
        prof.conditions.remove("employed")  # "沒有工作" contains 有工作
    prof.status = next((s for s in STATUSES if s in prof.conditions), None)
    prof.district = _district(norm)
    if prof.categories:
        prof.topic = norm
    return prof


_YOUTH_WORDS = re.compile(r"(?i)青年|青創|年輕人|youth|young people")


def wants_youth(text: str, today: date | None = None) -> bool:
    """Plainly a youth-programme question: it asks for a kind of help we list (category) and
    either names a business to start, says "青年", or gives an age of 15–45. Used when the
    router is unsure ("我28歲想開早餐店有補助嗎" scored between 工時加班 and 老人福利)."""
    prof = understand(text, today)
    if not prof.categories:
        return False
    return bool(
        _STARTUP.search(prof.text) or _YOUTH_WORDS.search(prof.text) or (prof.age is not None and 15 <= prof.age <= 45)
    )
