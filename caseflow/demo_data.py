"""Deterministic, fully SYNTHETIC demo school for caseflow (standard library only).

Nothing here describes real people: names are random combinations of common characters,
phone numbers are random, and 身份证号 are assembled from a region code, the synthetic birth
date and a random sequence number, with a correct GB 11643 check digit so that validation
code can be exercised. The same ``seed`` and ``today`` always give the same school.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from datetime import date, timedelta

from . import demo_names as _n
from . import idcard

SCHOOL_NAME = "示范职业技术学院"
GRADES: tuple[int, ...] = (2022, 2023, 2024, 2025)  # intake years; the last one is the freshmen
CLASSES_PER_GRADE = {"C01": 3, "C02": 3, "C03": 2, "C04": 2}  # -> 10 per grade, 40 in total
STUDENT_STATUSES: tuple[str, ...] = ("在校", "请假", "实习", "假期离校", "休学", "毕业")
GUARDIAN_RELATIONS: tuple[str, ...] = ("父亲", "母亲", "祖父", "祖母", "其他监护人")
ROLES: tuple[str, ...] = (
    "admin", "leader", "student_affairs", "security_office", "psych_center",
    "college_officer", "counselor",
)


@dataclass(frozen=True)
class College:
    code: str
    name: str


@dataclass(frozen=True)
class Klass:
    code: str
    name: str
    college_code: str
    grade: int  # intake year


@dataclass(frozen=True)
class Dorm:
    code: str
    building: str
    room: str


@dataclass(frozen=True)
class Guardian:
    name: str
    relation: str  # one of GUARDIAN_RELATIONS
    phone: str


@dataclass(frozen=True)
class Student:
    student_no: str
    name: str
    gender: str  # "男" / "女"
    class_code: str
    dorm_code: str
    phone: str
    id_card: str
    birth_date: date
    status: str  # one of STUDENT_STATUSES
    hardship: bool
    academic_difficulty: bool
    psych_watch: bool
    guardians: tuple[Guardian, ...]


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    roles: tuple[str, ...]
    college_code: str | None
    class_codes: tuple[str, ...]


@dataclass(frozen=True)
class DemoSchool:
    name: str
    colleges: tuple[College, ...]
    classes: tuple[Klass, ...]
    dorms: tuple[Dorm, ...]
    students: tuple[Student, ...]
    users: tuple[DemoUser, ...]


# --------------------------------------------------------------------------- helpers


def _years_before(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


def _birth_date_for_age(rng: random.Random, today: date, age: int) -> date:
    """A birth date such that the person is exactly ``age`` years old on ``today``."""
    latest = _years_before(today, age)
    earliest = _years_before(today, age + 1) + timedelta(days=1)
    return earliest + timedelta(days=rng.randint(0, (latest - earliest).days))


def _room_sizes(n: int, rng: random.Random) -> list[int] | None:
    """Split ``n`` into room sizes of 4-6 (mostly 6); None if impossible (n < 4 or n == 7)."""
    if n < 4 or n == 7:
        return None
    sizes: list[int] = []
    rem = n
    while rem > 6:
        options = [s for s in (6, 5, 4) if rem - s >= 8 or 4 <= rem - s <= 6]
        size = rng.choices(options, weights=[{6: 6, 5: 3, 4: 1}[s] for s in options])[0]
        sizes.append(size)
        rem -= size
    sizes.append(rem)
    return sizes


class _People:
    """Random people with phone numbers and ID numbers that are unique in one school."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.phones: set[str] = set()
        self.id_cards: set[str] = set()
        self._surnames = [s for s, _ in _n.SURNAME_WEIGHTS]
        self._surname_weights = [w for _, w in _n.SURNAME_WEIGHTS]
        self._regions = [r for r, _ in _n.REGION_CODE_WEIGHTS]
        self._region_weights = [w for _, w in _n.REGION_CODE_WEIGHTS]

    def surname(self) -> str:
        return self.rng.choices(self._surnames, weights=self._surname_weights)[0]

    def given(self, chars: str, two_char_share: float = 0.78) -> str:
        if self.rng.random() >= two_char_share:
            return self.rng.choice(chars)
        return "".join(self.rng.sample(chars, 2))

    def young_name(self, gender: str, surname: str | None = None) -> str:
        chars = _n.YOUNG_MALE_CHARS if gender == "男" else _n.YOUNG_FEMALE_CHARS
        return (surname or self.surname()) + self.given(chars)

    def phone(self) -> str:
        while True:
            number = self.rng.choice(_n.PHONE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def id_card(self, birth: date, gender: str) -> str:
        while True:
            seq = self.rng.randrange(500) * 2 + (1 if gender == "男" else 0)
            region = self.rng.choices(self._regions, weights=self._region_weights)[0]
            body = f"{region}{birth:%Y%m%d}{seq:03d}"
            card = body + idcard.check_digit(body)
            if card not in self.id_cards:
                self.id_cards.add(card)
                return card

    def guardians(self, surname: str) -> tuple[Guardian, ...]:
        rng = self.rng

        def make(relation: str, family: str, chars: str) -> Guardian:
            return Guardian(family + self.given(chars, 0.7), relation, self.phone())

        father = ("父亲", surname, _n.PARENT_MALE_CHARS)
        mother = ("母亲", self.surname(), _n.PARENT_FEMALE_CHARS)
        grandpa = ("祖父", surname, _n.ELDER_MALE_CHARS)
        grandma = ("祖母", self.surname(), _n.ELDER_FEMALE_CHARS)
        other = ("其他监护人", self.surname(), rng.choice(
            (_n.PARENT_MALE_CHARS, _n.PARENT_FEMALE_CHARS)))
        r = rng.random()
        if r < 0.72:
            chosen = [father, mother]
        elif r < 0.84:
            chosen = [mother]
        elif r < 0.91:
            chosen = [father]
        elif r < 0.97:
            chosen = rng.choice(([grandpa, grandma], [grandpa], [grandma]))
        else:
            chosen = [other]
        return tuple(make(*g) for g in chosen)


# --------------------------------------------------------------------------- school parts


def _build_classes() -> tuple[tuple[College, ...], tuple[Klass, ...]]:
    colleges = tuple(College(code, name) for code, name, _, _ in _n.COLLEGES)
    classes: list[Klass] = []
    for grade_index, grade in enumerate(GRADES):
        yy = grade % 100
        for code, _, _, majors in _n.COLLEGES:
            count = CLASSES_PER_GRADE[code]
            # The first (largest) major gets count-1 classes, one other major rotates by grade.
            plan = [majors[0][0]] * (count - 1) + [majors[1 + grade_index % (len(majors) - 1)][0]]
            seen: dict[str, int] = {}
            for nn, major in enumerate(plan, start=1):
                seen[major] = seen.get(major, 0) + 1
                classes.append(Klass(
                    code=f"{grade}{code[-1]}{nn:02d}",
                    name=f"{major}{yy:02d}{seen[major]:02d}班",
                    college_code=code,
                    grade=grade,
                ))
    return colleges, tuple(classes)


def _status(rng: random.Random, grade: int) -> str:
    if grade == GRADES[0]:  # final year: most are out on internship
        weights = (33, 2, 60, 3, 2, 0)
    elif grade == GRADES[1]:
        weights = (90, 3, 3, 3, 1, 0)
    else:
        weights = (93, 3, 0, 3, 1, 0)
    return rng.choices(STUDENT_STATUSES, weights=weights)[0]


def _build_students(
    people: _People, classes: tuple[Klass, ...], students_per_class: int, today: date
) -> list[Student]:
    rng = people.rng
    male_share = {code: share for code, _, share, _ in _n.COLLEGES}
    spread = min(4, students_per_class // 10)
    students: list[Student] = []
    for klass in classes:
        size = students_per_class + rng.randint(-spread, spread)
        years_in = GRADES[-1] - klass.grade
        for seq in range(1, size + 1):
            gender = "男" if rng.random() < male_share[klass.college_code] else "女"
            surname = people.surname()
            age = rng.choices((17, 18, 19), weights=(20, 60, 20))[0] + years_in
            birth = _birth_date_for_age(rng, today, age)
            students.append(Student(
                student_no=f"{klass.code}{seq:02d}",
                name=people.young_name(gender, surname),
                gender=gender,
                class_code=klass.code,
                dorm_code="",
                phone=people.phone(),
                id_card=people.id_card(birth, gender),
                birth_date=birth,
                status=_status(rng, klass.grade),
                hardship=rng.random() < 0.12,
                academic_difficulty=rng.random() < 0.08,
                psych_watch=rng.random() < 0.05,
                guardians=people.guardians(surname),
            ))
    return students


def _chunk(indices: list[int], sizes: list[int]) -> list[list[int]]:
    out, start = [], 0
    for size in sizes:
        out.append(indices[start:start + size])
        start += size
    return out


def _group_rooms(
    students: list[Student], classes: tuple[Klass, ...], gender: str, rng: random.Random
) -> list[list[int]]:
    """Indices of ``students`` of one gender grouped into rooms of 4-6, mostly by class."""
    rooms: list[list[int]] = []
    global_pool: list[int] = []
    for college_code in CLASSES_PER_GRADE:
        college_pool: list[int] = []
        for klass in (k for k in classes if k.college_code == college_code):
            members = [i for i, s in enumerate(students)
                       if s.class_code == klass.code and s.gender == gender]
            sizes = _room_sizes(len(members), rng)
            if sizes is None and len(members) == 7:
                sizes, college_pool = [4], college_pool + members[4:]
            elif sizes is None:
                sizes, college_pool = [], college_pool + members
            rooms += _chunk(members, sizes)
        sizes = _room_sizes(len(college_pool), rng)
        if sizes is None:
            global_pool += college_pool
        else:
            rooms += _chunk(college_pool, sizes)
    if not global_pool:
        return rooms
    # 1-3 or 7 left over: re-split them together with the last rooms.
    sizes = _room_sizes(len(global_pool), rng)
    while sizes is None and rooms:
        global_pool = rooms.pop() + global_pool
        sizes = _room_sizes(len(global_pool), rng)
    return rooms + (_chunk(global_pool, sizes) if sizes else [global_pool])


def _assign_dorms(
    students: list[Student], classes: tuple[Klass, ...], rng: random.Random
) -> tuple[list[Student], tuple[Dorm, ...]]:
    dorms: list[Dorm] = []
    out = list(students)
    for gender, area, prefix in (("男", "北苑", "BY"), ("女", "南苑", "NY")):
        for n, room in enumerate(_group_rooms(students, classes, gender, rng)):
            building_no, rest = divmod(n, 6 * 20)  # 6 floors x 20 rooms per building
            floor, room_no = divmod(rest, 20)
            room_name = f"{floor + 1}{room_no + 1:02d}"
            dorm = Dorm(f"{prefix}{building_no + 1}-{room_name}",
                        f"{area}{building_no + 1}号楼", room_name)
            dorms.append(dorm)
            for i in room:
                out[i] = replace(out[i], dorm_code=dorm.code)
    return out, tuple(dorms)


def _split(items: list[Klass], parts: int) -> list[list[Klass]]:
    """``items`` cut into ``parts`` consecutive groups whose sizes differ by at most one."""
    base, extra = divmod(len(items), parts)
    bounds = [p * base + min(p, extra) for p in range(parts + 1)]
    return [items[bounds[p]:bounds[p + 1]] for p in range(parts)]


def _build_users(
    people: _People, colleges: tuple[College, ...], classes: tuple[Klass, ...]
) -> tuple[DemoUser, ...]:
    used: set[str] = set()

    def person() -> str:
        while True:
            name = people.young_name(people.rng.choice("男女"))
            if name not in used:
                used.add(name)
                return name

    users = [
        DemoUser("admin", f"{person()}（系统管理员）", ("admin",), None, ()),
        DemoUser("leader", f"{person()}（分管校领导）", ("leader",), None, ()),
        DemoUser("xuegong", f"{person()}（学生工作处）", ("student_affairs",), None, ()),
        DemoUser("baowei", f"{person()}（保卫处）", ("security_office",), None, ()),
        DemoUser("xinli", f"{person()}（心理健康教育中心）", ("psych_center",), None, ()),
    ]
    counselor_sets: list[tuple[str, list[Klass]]] = []
    for college in colleges:
        own = sorted((k for k in classes if k.college_code == college.code),
                     key=lambda k: (k.grade, k.code))
        # 3-5 classes each; the default layout (12/12/8/8 classes) gives 4 per counselor.
        parts = max(1, math.ceil(len(own) / 5), round(len(own) / 4))
        counselor_sets += [(college.code, group) for group in _split(own, parts)]
    # xueyuan1 also counsels one class, taken from the fullest counselor of its college.
    first = colleges[0].code
    donor = max((g for c, g in counselor_sets if c == first), key=len)
    officer_class = donor.pop()
    for number, college in enumerate(colleges, start=1):
        if number == 1:
            users.append(DemoUser("xueyuan1", f"{person()}（学院学工负责人兼辅导员）",
                                  ("college_officer", "counselor"), college.code,
                                  (officer_class.code,)))
        else:
            users.append(DemoUser(f"xueyuan{number}", f"{person()}（学院学工负责人）",
                                  ("college_officer",), college.code, ()))
    for number, (college_code, group) in enumerate(counselor_sets, start=1):
        users.append(DemoUser(f"fudaoyuan{number}", f"{person()}（辅导员）", ("counselor",),
                              college_code, tuple(k.code for k in group)))
    return tuple(users)


def build_demo_school(
    seed: int = 20261123, students_per_class: int = 40, today: date | None = None
) -> DemoSchool:
    """Build the synthetic demo school; deterministic for a given ``seed`` and ``today``.

    ``today`` (default ``date.today()``) only anchors birth dates: freshmen (intake
    ``GRADES[-1]``) are 17-19 on that day, so some of them are minors.
    """
    if not 1 <= students_per_class <= 95:
        raise ValueError("students_per_class must be between 1 and 95")
    today = today or date.today()
    rng = random.Random(seed)
    people = _People(rng)
    colleges, classes = _build_classes()
    students = _build_students(people, classes, students_per_class, today)
    students, dorms = _assign_dorms(students, classes, rng)
    users = _build_users(people, colleges, classes)
    return DemoSchool(SCHOOL_NAME, colleges, classes, dorms, tuple(students), users)

