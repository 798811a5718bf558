from collections import Counter, defaultdict
from datetime import date

import pytest

from caseflow.demo_data import (
    GRADES,
    GUARDIAN_RELATIONS,
    ROLES,
    STUDENT_STATUSES,
    DemoSchool,
    build_demo_school,
)
from caseflow.idcard import checksum_ok

TODAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def school() -> DemoSchool:
    return build_demo_school(today=TODAY)


def _age(birth: date, today: date = TODAY) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def test_counts(school):
    assert school.name == "示范职业技术学院"
    assert len(school.colleges) == 4
    assert len(school.classes) == 40
    assert 1500 <= len(school.students) <= 1700
    sizes = Counter(s.class_code for s in school.students)
    assert set(sizes) == {k.code for k in school.classes}
    assert all(36 <= n <= 44 for n in sizes.values())
    assert {k.grade for k in school.classes} == set(GRADES)


def test_classes_belong_to_colleges(school):
    college_codes = {c.code for c in school.colleges}
    assert len(college_codes) == 4
    assert len({k.code for k in school.classes}) == 40
    assert len({k.name for k in school.classes}) == 40
    for k in school.classes:
        assert k.college_code in college_codes
        assert k.name.endswith("班")
        assert f"{k.grade % 100:02d}" in k.name
    names = {c.code: c.name for c in school.colleges}
    assert "信息工程学院" in names.values()
    assert any(k.name.startswith("软件") and names[k.college_code] == "信息工程学院"
               for k in school.classes)


def test_unique_identifiers(school):
    students = school.students
    assert len({s.student_no for s in students}) == len(students)
    assert len({s.id_card for s in students}) == len(students)
    phones = [s.phone for s in students] + [g.phone for s in students for g in s.guardians]
    assert len(set(phones)) == len(phones)
    for phone in phones:
        assert len(phone) == 11 and phone.isdigit() and phone[:2] in {"13", "15", "17", "18", "19"}


def test_student_numbers_follow_class(school):
    for s in school.students:
        assert s.student_no.startswith(s.class_code)
        assert len(s.student_no) == 9 and s.student_no.isdigit()


def test_id_cards_valid_and_consistent(school):
    for s in school.students:
        assert checksum_ok(s.id_card), s.id_card
        assert s.id_card[6:14] == s.birth_date.strftime("%Y%m%d")
        assert (int(s.id_card[16]) % 2 == 1) == (s.gender == "男")


def test_statuses_and_flags(school):
    students = school.students
    statuses = Counter(s.status for s in students)
    assert set(statuses) <= set(STUDENT_STATUSES)
    assert statuses.most_common(1)[0][0] == "在校"
    assert statuses["毕业"] == 0
    grade_of = {k.code: k.grade for k in school.classes}
    interns = Counter(grade_of[s.class_code] for s in students if s.status == "实习")
    assert interns.most_common(1)[0][0] == min(GRADES)
    n = len(students)
    assert 0.08 < sum(s.hardship for s in students) / n < 0.16
    assert 0.05 < sum(s.academic_difficulty for s in students) / n < 0.11
    assert 0.03 < sum(s.psych_watch for s in students) / n < 0.07


def test_ages_match_grade_and_minors_present(school):
    grade_of = {k.code: k.grade for k in school.classes}
    for s in school.students:
        age = _age(s.birth_date)
        years_in = max(GRADES) - grade_of[s.class_code]
        assert 17 + years_in <= age <= 19 + years_in
    minors = [s for s in school.students if _age(s.birth_date) < 18]
    assert len(minors) >= 10


def test_guardians(school):
    for s in school.students:
        assert 1 <= len(s.guardians) <= 2
        assert len({g.relation for g in s.guardians}) == len(s.guardians)
        for g in s.guardians:
            assert g.relation in GUARDIAN_RELATIONS
            if g.relation in ("父亲", "祖父"):
                assert g.name[0] == s.name[0]
    relations = Counter(g.relation for s in school.students for g in s.guardians)
    assert relations["父亲"] > relations["祖父"] and relations["母亲"] > relations["祖母"]


def test_dorms(school):
    dorm_codes = {d.code for d in school.dorms}
    assert len(dorm_codes) == len(school.dorms)
    rooms = defaultdict(list)
    for s in school.students:
        assert s.dorm_code in dorm_codes
        rooms[s.dorm_code].append(s)
    assert set(rooms) == dorm_codes
    for members in rooms.values():
        assert 4 <= len(members) <= 6
        assert len({s.gender for s in members}) == 1
    single_class = sum(len({s.class_code for s in m}) == 1 for m in rooms.values())
    assert single_class / len(rooms) > 0.9
    for d in school.dorms:
        assert d.building.endswith("号楼") and d.room.isdigit()


def test_every_role_present(school):
    present = {r for u in school.users for r in u.roles}
    assert present == set(ROLES)
    usernames = [u.username for u in school.users]
    assert len(set(usernames)) == len(usernames)
    for name in ("admin", "leader", "xuegong", "baowei", "xinli"):
        assert name in usernames
    assert len({u.display_name for u in school.users}) == len(school.users)
    assert all("（" in u.display_name and u.display_name.endswith("）") for u in school.users)


def test_college_officers(school):
    officers = [u for u in school.users if "college_officer" in u.roles]
    assert sorted(u.username for u in officers) == ["xueyuan1", "xueyuan2", "xueyuan3", "xueyuan4"]
    assert {u.college_code for u in officers} == {c.code for c in school.colleges}
    first = next(u for u in officers if u.username == "xueyuan1")
    assert first.roles == ("college_officer", "counselor")
    assert len(first.class_codes) == 1


def test_every_class_has_exactly_one_counselor(school):
    college_of = {k.code: k.college_code for k in school.classes}
    owners = Counter()
    for u in school.users:
        if "counselor" not in u.roles:
            continue
        assert u.class_codes
        assert {college_of[c] for c in u.class_codes} == {u.college_code}
        if u.username.startswith("fudaoyuan"):
            assert 3 <= len(u.class_codes) <= 5
        owners.update(u.class_codes)
    assert set(owners) == set(college_of)
    assert set(owners.values()) == {1}


def test_deterministic():
    a = build_demo_school(today=TODAY)
    b = build_demo_school(today=TODAY)
    assert a == b
    c = build_demo_school(seed=7, today=TODAY)
    assert c != a
    assert len(c.classes) == 40


def test_other_sizes_work():
    small = build_demo_school(students_per_class=10, today=TODAY)
    assert 300 <= len(small.students) <= 500
    for members in Counter(s.dorm_code for s in small.students).values():
        assert 4 <= members <= 6
    with pytest.raises(ValueError):
        build_demo_school(students_per_class=0)
