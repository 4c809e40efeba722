"""Generation: the rows of one department dataset from one seed, with the planted cases. Pure: no database
access (``demo.provisioning`` writes what :func:`build` returns)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from demo.decisions import (
    FIRST_DECISION,
    LAST_DECISION,
    UPDATE_CAP,
    Record,
    add_years,
    amount,
    cn_date,
    fill,
    penalty_content,
    weekday_on_or_before,
    yuan,
)
from demo.defects import (
    BAD_SHARE,
    CORRECTION_SHARE,
    DEFECTS,
    FIXABLE_SHARE,
    PROVINCE_REJECTS,
    apply_defect,
    defect_kinds,
)
from demo.departments import DepartmentSpec
from demo.identities import Faker, Party, PartyKind


class Generator:
    """Neutral records of one department dataset, from one seed."""

    def __init__(self, dept: DepartmentSpec, dataset: str, seed: int, salt: str = "base") -> None:
        self.dept = dept
        self.dataset = dataset
        self.spec = dept.datasets[dataset]
        self.rng = random.Random(f"{seed}:{dept.code}:{dataset}:{salt}")
        self.faker = Faker(self.rng, dept.industries)
        # A pool of firms, so the same firm meets the department more than once (as in life).
        pool_rng = random.Random(f"{seed}:{dept.code}:{dataset}:pool")
        pool_faker = Faker(pool_rng, dept.industries)
        self.orgs = [pool_faker.company() for _ in range(400)]
        self.inds = [pool_faker.individual_business(dept.shops) for _ in range(250)]
        self.nonprofits = [pool_faker.nonprofit(dept.nonprofits) for _ in range(30)]

    def party(self, kind: PartyKind) -> Party:
        r = self.rng
        if kind == "np":
            return self.faker.natural_person()
        pool = {"org": self.orgs, "ind": self.inds, "nonprofit": self.nonprofits}[kind]
        src = r.choice(pool)
        return Party(**vars(src))  # a copy: defects mutate the record's party only

    def party_kind(self) -> PartyKind:
        kinds, weights = zip(*self.spec.party_mix, strict=True)
        return self.rng.choices(kinds, weights)[0]

    def decision_date(self, lo: dt.date = FIRST_DECISION, hi: dt.date = LAST_DECISION) -> dt.date:
        d = lo + dt.timedelta(days=self.rng.randrange((hi - lo).days + 1))
        return max(weekday_on_or_before(d), lo)

    def record(self, seq: int, *, need: PartyKind | None = None, need_fine: bool = False,
               jdrq: dt.date | None = None) -> Record:
        """One good decision; ``need``/``need_fine`` steer it so that a planned defect fits."""
        r = self.rng
        kind = need or self.party_kind()
        jdrq = jdrq or self.decision_date()
        auth = r.choices(self.dept.authorities, [3] + [1] * (len(self.dept.authorities) - 1))[0]
        if self.dataset == "cf":
            scen = [s for s in self.dept.penalties if kind in s.lbs and (not need_fine or "罚款" in s.cats)]
            if not scen:  # the steering asks for a party no scenario fits: relax the party
                scen = [s for s in self.dept.penalties if not need_fine or "罚款" in s.cats]
                kind = r.choice(scen[0].lbs)
            ps = r.choices(scen, [s.weight for s in scen])[0]
            party = self.party(kind)
            fk = amount(r, ps.fine) if ps.fine else None
            wfff = amount(r, ps.wfff) if ps.wfff else None
            zkdx = ps.zkdx.format(seq=seq) if ps.zkdx else None
            rec = Record(
                "cf", party, auth, self.dept.penalty_wsh.replace("{prefix}", auth.prefix), jdrq, dt.datetime.min,  # noqa: DTZ901 - gxsj set below
                wfxw=ps.wfxw, sy=fill(ps.sy, self.faker, jdrq=jdrq, value=yuan(wfff) if wfff else str(r.randrange(1, 60) * 100)),
                yj=ps.yj, cats=ps.cats, fk=fk, wfff=wfff, zkdx=zkdx, nr=penalty_content(ps.cats, fk, wfff, zkdx),
                yxq=add_years(jdrq, 1 if self.dept.code == "wsjkw" else 3),
                case_no=f"{auth.prefix}案{jdrq:%Y}{seq:06d}",
            )
        else:
            licences = [s for s in self.dept.licences if kind in s.lbs]
            if not licences:
                licences = list(self.dept.licences)
                kind = r.choice(licences[0].lbs)
            ls = r.choices(licences, [s.weight for s in licences])[0]
            party = self.party(kind)
            xkbh = ls.xkbh(self.faker, seq, party, jdrq) if ls.xkbh else None
            wsh = ls.wsh.replace("{prefix}", auth.prefix) if ls.wsh else xkbh
            start = jdrq + dt.timedelta(days=r.choice((0, 0, 0, 1, 3)))
            end = dt.date(2099, 12, 31) if ls.years is None else add_years(start, ls.years) - dt.timedelta(days=1)
            rec = Record(
                "xk", party, auth, wsh, jdrq, dt.datetime.min,  # noqa: DTZ901 - gxsj set below
                xkws=ls.xkws, xklb=ls.xklb, xkzs=ls.xkzs,
                xkbh=xkbh, nr=fill(ls.nr, self.faker, jdrq=jdrq), yxqz=start, yxqzi=end,
                zt="2" if r.random() < 0.04 else "1",
            )
        # Entered some days after the decision, during office hours.
        entered = dt.datetime.combine(jdrq, dt.time(8, 30)) + dt.timedelta(
            days=r.randrange(0, self.dept.entry_days), seconds=r.randrange(0, 9 * 3600))
        rec.gxsj = min(entered, UPDATE_CAP)
        if r.random() < 0.05:
            rec.bz = r.choice(("经复核无异议", "当事人已履行", "已送达", "简易程序转一般程序"))
        return rec


def number_documents(records: list[Record], rng: random.Random) -> None:
    """Replace ``{year}``/``{n}`` in document numbers by a running number per template and year."""
    groups: dict[tuple[str, int], list[Record]] = {}
    for rec in records:
        if rec.wsh and "{n}" in rec.wsh:
            assert isinstance(rec.jdrq, dt.date)
            groups.setdefault((rec.wsh, rec.jdrq.year), []).append(rec)
    for (template, year), recs in sorted(groups.items()):
        recs.sort(key=lambda x: (x.jdrq, x.gxsj))
        for n, rec in enumerate(recs, 1):
            rec.wsh = template.format(year=year, n=n)


@dataclass
class Built:
    rows: list[dict[str, Any]]
    cases: list[dict[str, Any]]


def build(dept: DepartmentSpec, dataset: str, rows: int, seed: int) -> Built:
    """All rows of one department dataset, with the planted cases. Pure: no database access."""
    spec = dept.datasets[dataset]
    gen = Generator(dept, dataset, seed)
    rng = random.Random(f"{seed}:{dept.code}:{dataset}:plan")
    n_corr = max(1, round(rows * CORRECTION_SHARE)) if rows >= 20 else 0
    n_base = rows - n_corr
    bad_kinds = defect_kinds(dept.code, dataset, "bad")
    fix_kinds = defect_kinds(dept.code, dataset, "fixable")
    n_bad = round(rows * BAD_SHARE)
    n_fix = round(rows * FIXABLE_SHARE)
    picked = rng.sample(range(n_base), min(n_base, n_bad + n_fix))
    plan: dict[int, str] = {}
    for j, idx in enumerate(picked):
        kinds = bad_kinds if j < n_bad else fix_kinds
        plan[idx] = kinds[j % len(kinds)]

    records: list[Record] = []
    for i in range(n_base):
        kind = plan.get(i)
        need = DEFECTS[kind][1] if kind else None
        rec = gen.record(i + 1, need=need, need_fine=kind == "fine_missing")
        records.append(rec)
    number_documents(records, rng)
    for i, kind in plan.items():
        apply_defect(records[i], kind, i, rng)

    if rows >= 100:  # rows of good decisions with a 文书号 that the province refuses
        for i in rng.sample([i for i in range(n_base) if i not in plan and records[i].wsh], PROVINCE_REJECTS):
            plan[i] = "province_void_number"
            apply_defect(records[i], "province_void_number", i, rng)

    # Later correction rows: same 文书号 (and 许可编号), corrected content, a later update time.
    originals = rng.sample([i for i in range(n_base) if i not in plan], n_corr) if n_corr else []
    corrections: list[Record] = []
    for i in originals:
        src = records[i]
        rec = Record(**{**vars(src), "party": Party(**vars(src.party)), "extra": dict(src.extra)})
        if dataset == "cf":
            rec.sy = src.sy.rstrip("。") + "（经复核，更正违法事实表述）。"
            assert isinstance(src.jdrq, dt.date)  # an original is never a planted row (no impossible date)
            rec.bz = f"更正：原决定书违法事实表述有误，于{cn_date(src.jdrq + dt.timedelta(days=10))}更正"
        else:
            rec.zt = "2"
            rec.bz = "许可已注销"
        rec.gxsj = min(src.gxsj + dt.timedelta(days=rng.randrange(3, 40), seconds=rng.randrange(3600)), UPDATE_CAP)
        corrections.append(rec)

    tagged: list[tuple[Record, str | None]] = [(r, plan.get(i)) for i, r in enumerate(records)]
    tagged += [(r, "correction") for r in corrections]
    # Primary keys follow entry order, as an auto-increment id would.
    tagged.sort(key=lambda t: t[0].gxsj)
    # Batch imports stamp several rows with the same second: the cursor is not unique. The earlier
    # row takes the later stamp, so no row is stamped before its decision and the order holds.
    for k in range(1, len(tagged)):
        if rng.random() < 0.05:
            tagged[k - 1][0].gxsj = tagged[k][0].gxsj

    out_rows: list[dict[str, Any]] = []
    cases: list[dict[str, Any]] = []
    for pk, (rec, kind) in enumerate(tagged, 1):
        row = spec.to_row(rec)
        row[spec.pk] = pk
        if rec.unknown_code:
            spec.unknown(row, pk)
        out_rows.append(row)
        if kind:
            verdict = "correction" if kind == "correction" else DEFECTS[kind][0]
            cases.append({"dataset": dataset, "pk": pk, "kind": kind, "verdict": verdict})
    return Built(out_rows, cases)
