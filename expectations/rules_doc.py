"""Renders ``docs/rules.md`` from the catalogue, with the reason behind every unconfirmed choice.

Run ``PYTHONPATH=. .venv/bin/python -m expectations.rules_doc --write``; a test fails when the
document drifts from the catalogue.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from expectations.catalogue import Rule, load_catalogue
from expectations.settings import RuleSettings
from national import dataset

DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "rules.md"

#: Why each non-confirmed rule is what it is: (rule-id pattern, decision). First match wins.
DECISIONS: list[tuple[str, str]] = [
    (
        r"CF-(LEN-01[34]|CHR-01[12]|FML-01[01])$|XK-(LEN-01[34]|CHR-01[01]|FML-009|FML-010)$",
        "Extension field beyond the 2019 template [D] (issue 17 item 11): optional, so only length and characters are checked; lengths are our bound for a title, a legal basis or a remedy text.",
    ),
    (
        r"COM-REQ-003",
        "Error. The matrix marks the USCC required for org and ind [M]; without it the record cannot be matched to a party, and the ind placeholder gives a legal way out.",
    ),
    (
        r"COM-REQ-005",
        "Error. Local implementations require it for org [C-impl]; ind [M] follows the template's note that the operator's name goes here.",
    ),
    (r"COM-REQ-006", "Error [D]: a document number without its type cannot be checked or masked correctly."),
    (r"COM-REQ-00[78]", "Error: every local implementation seen requires the document of a natural person [C-impl]."),
    (
        r"COM-EMPTY-001",
        "Error although [M]: a USCC on a 自然人 almost always means the party type is wrong (an ind or org), which changes publication and masking.",
    ),
    (
        r"COM-EMPTY-",
        "Warning: the matrix says empty [M]; a stray value does no harm to publication (np identity columns are masked anyway), so it is flagged, not quarantined.",
    ),
    (
        r"(COM|CF|XK)-LEN-",
        "Error: lengths are the template/DDL column sizes; a longer value is truncated or rejected by the receiving database. Counted in characters; switch off or change `max` only if the target column is wider.",
    ),
    (
        r"COM-ENUM-003",
        "Error: the template reuses the 法定代表人证件类型 list for 证件类型 [M]; local codes (01…05) are mapped by the transforms stage, not accepted here.",
    ),
    (
        r"COM-USCC-003",
        "Warning [D]: the position 1–2 codes are confirmed, but the list of position-2 categories in the spec is partial (departments 2, 4, 6, 7, 8, A accept any), so a miss may be our gap.",
    ),
    (
        r"COM-USCC-004",
        "Warning [D]: positions 9–17 are a GB 11714 code by structure; old codes issued before the USCC scheme may not satisfy it, so it is a hint, not a block.",
    ),
    (
        r"COM-USCC-005",
        "Error (issue 17): GB 32100 gives 9 = 工商/市场监管 and 2 = 个体工商户 [C, spec §3.1], so another prefix means a wrong code or a wrong party type. A department whose register lags (个转企 conversions not yet updated) may lower it to a warning in its own department file: `rules: {COM-USCC-005: {severity: warning}}`.",
    ),
    (r"COM-USCC-006", "Warning [D] as in spec §3.1: the party is probably a 个体工商户."),
    (r"COM-PH-002", "Error [D]: passes the checksum, so only this rule catches it. Switching it off accepts it."),
    (
        r"COM-PH-003",
        "Error, unconfirmed: no source defines a 17-nines convention. Switching it off ACCEPTS the nines placeholders (the checksum rules leave placeholder values to their own rules).",
    ),
    (r"COM-PH-004", "Error [D]: nine zeros pass the GB 11714 check like 18 zeros pass GB 32100."),
    (
        r"COM-ORG-001",
        "Error: 9 characters per the template [C-impl]; the hyphenated form XXXXXXXX-X is rejected with a hint (the transforms stage may strip the hyphen, spec §3.2 [D]).",
    ),
    (
        r"COM-ORG-003",
        "Error: positions 9–17 of a USCC are its 组织机构代码 by structure [C]; two codes of the same party must agree.",
    ),
    (
        r"COM-CODE-",
        "Error [D]: after NFKC/upper-case/whitespace removal (transforms) a 工商注册号/税务登记号 is pure [0-9A-Z].",
    ),
    (
        r"COM-ID-00[56]",
        "Error [D] (issue 17): a `其他-…` document type must not bypass the 身份证 checks. A number shaped like one (15 digits, or 17 digits and a digit or X) is checked as one: the 15-digit legacy form is rejected (spec §3.2 [D]), an 18-digit one needs a real birth date and the check digit. Other numbers under `其他-…` are not checked.",
    ),
    (
        r"COM-DOC-",
        "Error [D]: passports and permits have no checksum; only ^[A-Z0-9]{5,20}$ is checked. `其他-…` documents are not checked.",
    ),
    (
        r"(COM|CF|XK)-JUNK-",
        "Error [D]: a placeholder text in a required field is as good as missing. The value list is `junk_values` in the settings; names are also rejected when digits only.",
    ),
    (
        r"(COM|CF|XK)-CHR-",
        "Error [D]: control characters (C0 except newline, DEL, C1), U+FFFD (乱码) and lone surrogates are rejected; newline is allowed only in CF_SY, CF_NR, XK_NR and BZ.",
    ),
    (
        r"COM-SPC-",
        "Error, unconfirmed character set: `name_special_chars` (default <>\"'%;\\) and `name_reject_emoji` in the settings.",
    ),
    (
        r"(COM|CF|XK)-FML-",
        "Warning [D] (issue 12 item 4): a leading = + - @ (or ＝＋－＠) makes Excel/WPS run the cell as a formula. The platform's workbooks and CSV files write such text as text anyway (national/safety.py), so the row is loaded and the department is told; names, 文号, 证书名称/编号 and legal texts never start so. 备注 is checked for = + @ only: a leading - there is a dash or bullet (“-无-”). Codes, dates, amounts and enumerations are left to their format rules.",
    ),
    (r"CF-REQ-00[1-6]|CF-REQ-01[1-7]", "Error: required by the penalty DDL / local implementations [C-impl]."),
    (
        r"CF-REQ-00[789]",
        "Error, [M]: the amount or licence must accompany the category that implies it (罚款 → CF_NR_FK; 没收… → CF_NR_WFFF; 暂扣/吊销 → CF_NR_ZKDX).",
    ),
    (r"CF-REQ-010", "Warning [D] as suggested in spec §2: 降低资质等级 usually names the affected certificate."),
    (
        r"CF-REQ-013",
        "Warning: optional in the 2019 template, but the transforms stage derives it (§5.2). Judged only when CF_JDRQ is a valid date (issue 17): a missing or unreadable decision date is reported once, by CF-REQ-011 / CF-DATE-001, not again as a blank 公示截止期.",
    ),
    (
        r"XK-WS-001",
        "Warning [D] (issue 17): the spec says the title is the part before the bracket [C, §1 #14]; which brackets hold a document number is our heuristic (the bracket equals XK_WSH, or ends in 号 with a digit). Where it equals XK_WSH the platform stores the title without it (transforms.derive.strip_number_from_title); any other bracket is kept for the department to fix.",
    ),
    (
        r"CF-CAT-001",
        "Error [M]: tokens split on ; ； and 、 with the 2019 compounds matched first; a `其他-…` token runs to the end of its part so its free text may contain 、. Extra spellings go to `extra_penalty_category_aliases`.",
    ),
    (r"CF-CAT-002", "Error [M]: 其他 must name the kind (其他-…), as for 许可类别 where it is confirmed."),
    (
        r"CF-AMT-00[12]",
        "Error: plain decimal in 万元 with at most 6 decimals (DDL decimal(18,6) [C-impl]); units and thousands separators are refused so that 元 are not mistaken for 万元.",
    ),
    (r"CF-AMT-00[34]", "Error [D]: a fine of 0 contradicts the category."),
    (r"CF-AMT-00[56]", "Warning [D]: an amount without its category is suspicious but may be a category omission."),
    (
        r"CF-AMT-00[78]",
        "Warning [D]: ≥ `large_amount_wan` (default 100000 万元 = 1 billion CNY) is probably entered in 元.",
    ),
    (
        r"CF-AMT-009",
        "Warning [D]: compares CF_NR_FK × 10000 with the first 罚款N元 / 罚款N万元 in CF_NR (tolerance `fine_text_tolerance_yuan`). The most expensive rule (~2 s per million rows); switch off if the budget is tight.",
    ),
    (
        r"(CF|XK)-DATE-00[1-3]",
        "Error: the template's date format [C]; the transforms stage normalises YYYY/MM/DD, YYYY-MM-DD and YYYYMMDD, so anything else left here is unparseable or impossible.",
    ),
    (r"(CF|XK)-DATE-00[45]", "Error [D]: 2099-12-31 is the only 长期 sentinel; later years are typing errors."),
    (
        r"(CF|XK)-DATE-006",
        "Error: several systems reject decision dates after the upload date [C-impl]; `today` is passed by the pipeline so that re-runs judge alike.",
    ),
    (r"(CF|XK)-DATE-007", "Warning [D]: `decision_date_floor` (default 2000-01-01)."),
    (r"CF-DATE-008", "Error [M]: the penalty cannot stop having effect before it was decided."),
    (r"CF-DATE-009", "Error [M]: publicity ends after the decision."),
    (
        r"CF-DATE-010",
        "Warning [D]: the 2023 rules cap publicity at 3 years (`publicity_max_years`); 2099-12-31 is reported by CF-DATE-011 instead.",
    ),
    (r"CF-DATE-011", "Warning [D]: the 长期 sentinel conflicts with the 3-year maximum unless a law says otherwise."),
    (r"XK-DATE-008", "Error [M]: validity cannot end before it starts."),
    (r"XK-DATE-009", "Error [D]: validity cannot end before the decision."),
    (
        r"XK-DATE-010",
        "Warning [D] as in spec §3.5: validity may legitimately start before the decision (retroactive renewals).",
    ),
    (
        r"XK-DATE-011",
        "Off by default: only one local system rejects licences that have already expired [C-impl, local].",
    ),
    (
        r"(CF|XK)-USCC-003",
        "Warning [D]: authority codes normally start 11 (机关) or 12 (事业单位); others are flagged, not rejected.",
    ),
    (
        r"(CF|XK)-PH-",
        "Error [D]: placeholders are never allowed in authority or source-unit codes (a public sample misuses 00000000000000000X there).",
    ),
    (
        r"(CF|XK)-DUP-",
        "Warning [D]: the same (文号, 相对人名称, 决定日期, 机关代码) twice in one batch; the store's business key absorbs true re-sends, so this only flags.",
    ),
    (
        r"XK-REQ-",
        "Error: required by the template [M] (decision dates, authority, status and source unit are in every sample payload).",
    ),
    (r"XK-ENUM-002", "Error: 1 有效 / 2 无效 as in the sample payloads [C-impl]."),
]

HEADER = """# National rule catalogue

Generated from `expectations/catalogue/*.yaml` by `python -m expectations.rules_doc --write`; do not
edit by hand. Source of the rules: `../shared/spec/national-rules.md` (tags: **C** confirmed, **C-impl**
seen in government code, **M** recalled/unconfirmed, **D** our design, **U** unconfirmed by any source).

## How rules work

- Each rule has a stable id `SCOPE-GROUP-NNN`: `COM` for the party columns 1–13 shared by both
  datasets (the same id in `cf` and `xk`), `CF` / `XK` for the rest. Groups: `REQ` required, `EMPTY`
  must be empty, `LEN` length, `ENUM` enumeration, `CAT` 处罚类别, `USCC`/`ORG`/`ID`/`DOC`/`CODE`
  identifiers, `PH` placeholders, `JUNK` junk values, `CHR` control characters, `SPC` special
  characters, `FW` full-width letters, `FML` spreadsheet formulas, `AMT` amounts, `DATE` dates,
  `DUP` duplicates in a batch.
  Numbers are never reused or renumbered.
- `error` sends the row to quarantine; `warning` loads it with a note. Only `required` rules judge a
  blank value; every other rule skips blanks.
- Rules whose source is not **C** can be switched off, given another severity, or given other
  parameters in the settings file (`expectations/settings.yaml`, model `RuleSettings`), e.g.
  `rules: {COM-PH-003: {enabled: false}, CF-REQ-013: {severity: error}}`. Confirmed rules cannot.
- Placeholder values (`00000000000000000X`, 18 zeros, 17 nines) are judged only by their `PH` rules:
  the check-digit, registration and prefix rules skip them, so a clerk sees one message, and
  switching a placeholder rule off accepts that placeholder.

## Decisions on purpose

- **身份证 region codes are not checked against the birth year.** python-stdnum's `cn.ric` rejects an
  ID whose 6-digit region code did not exist in the birth year; the national rule (§3.2) asks only for
  the pattern, a real birth date not in the future, and the check digit. Region tables change and
  stdnum's is incomplete for old IDs, so an error there would quarantine real people's records. The
  tests use stdnum as a cross-check on the checksum and date logic only.
- **USCC positions 1–2 may be letters** (`N1…`, `Y1…`, `A…`), as GB 32100 allows; python-stdnum's
  `cn.uscc` requires digits in positions 1–8 and would reject them. Positions 3–8 must be digits.
- **15-digit 身份证 numbers are rejected**, not converted (§3.2 [D]: conversion needs the business
  owner's consent).
- **Dates must already be canonical `YYYY-MM-DD`** when they reach the rules: the transforms stage
  converts the accepted input forms; anything left is reported as "not a valid date".
- **Empty strings count as blank**, like `None`; `NaN` too. Other non-string values are judged by their
  `str()`.
- **Half-width (issue 17, spec §3.4 [C]).** Letters, digits and symbols are half-width in every coded
  and numbered field. The transforms stage normalises where the meaning is unchanged: codes (`code`
  fields: USCCs, 组织机构代码, registration numbers, 证件号码) get NFKC, upper case and no white space;
  numbers (`number` fields: CF_WSH, XK_WSH, XK_XKBH) get NFKC and trimming (`榕市监罚〔２０２４〕１２号` →
  `榕市监罚〔2024〕12号`); names and titles (`name` fields) get their full-width letters and digits
  folded and are trimmed (`　阳泉市ＡＢＣ商贸有限公司 ` → `阳泉市ABC商贸有限公司`), brackets kept as
  registered (§3.4 [D]). What cannot be normalised without changing the value — a look-alike letter
  (Cyrillic `А`), another script's digit — is an error: the USCC, 组织机构代码, 身份证, 工商注册号 and
  税务登记号 format rules reject it, and the `FW` rules cover the fields without a format rule.
  The document number is part of the business key: migration 0009 re-keys stored records with the same
  forms (`national.text.halfwidth_number`, `halfwidth_code`, `halfwidth_name`), so a record stored with a
  full-width 文书号 keeps one record when its row is read again half-width.
- **Joint penalties (issue 17 item 1; spec §3.7 [D]: a record is identified by 文书号 *and* the party — “CF_XDR_MC
  or its code”).** The business
  key is the decision *and* the party (`national/keys.py`; docs/architecture.md “Business key”): one
  决定书 against two or three parties (共同违法) is one record per party, each published, assessed and pushed.
  Before, the key was the decision only and the second party's row replaced the first. CF-DUP-001 /
  XK-DUP-001 (same 文号, 相对人名称, 决定日期, 机关代码 in a batch) were already per party and are unchanged.
- **Per-department rule switches (issue 17).** A department file may adjust non-C rules for its own
  rows, over `expectations/settings.yaml`: `rules:` at the top level (both datasets) or under a
  dataset (`datasets: {cf: {rules: …}}`, which wins), e.g. `rules: {COM-USCC-005: {severity: warning}}`.
  The file is refused when a rule id is unknown or a confirmed (C) rule is named.
- **Extension fields beyond the 2019 template (issue 17 item 11).** The seed requires the column to
  publish 案件名称 and 救济渠道 for penalties and 设定依据 and 项目名称 for licences, which the 2019 national
  template lacks. They are optional fields of their own (`national/fields.py`, `extension=True`):
  `CF_AJMC` 案件名称 (name, ≤ 500), `CF_JJQD` 救济渠道 (text, ≤ 1000, line breaks allowed), `XK_XMMC`
  项目名称 (name, ≤ 200; the 2016 template's code, spec Appendix A) and `XK_SDYJ` 设定依据 (text, ≤ 2048).
  A department maps them like any column (`columns: {CF_AJMC: case_name}`, or the Chinese header in a
  template file); they are normalised by kind, checked by the `LEN`, `CHR` and `FML` rules below (source
  **D**, configurable), stored in `record_<ds>` and the public column's read model (migration
  `0014_extension_fields`) and shown on the record's page. They are **not national fields**: never sent
  upstream (`upstream.envelope.national_data`: the envelope and its files carry the template's columns
  only), and an empty extension field is left out of the record's payload, so the content hash of every
  record stored before the upgrade is unchanged and nothing looks changed; filling or changing one is a
  new version (pushed as an update with the same national values). No rule requires them: the seed's
  list is what to publish, the national template is what departments must deliver.
- **GX suites** (`expectations/suites/*.json`) state the same rules: built-in expectations where their
  semantics match exactly, custom check-digit expectations, and an engine-backed custom expectation for
  the rest. The engine-backed ones ask the engine, so they cannot disagree with it: every rule is
  checked against a known answer instead (hand-labelled rows that the engine and GX must both get
  right; python-stdnum for the check digits), and "GX fails the same rows as the engine" is claimed
  only for the built-ins (docs/reliability.md, issue 18). `sgs audit` runs these suites through GX over
  the records in the central store (a department with its own switches gets its own suite), and GX's
  Data Docs in `<var>/gx` show every ingest run's and every audit's result (docs/audit.md, issue 17).
"""


def decision(rule: Rule) -> str:
    """The recorded reason for a configurable rule's default ('' for confirmed rules)."""
    if not rule.configurable:
        return ""
    for pattern, text in DECISIONS:
        if re.match(pattern, rule.id):
            return text
    return ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    """The whole of docs/rules.md for the default settings."""
    settings = RuleSettings()
    out = [HEADER]
    seen: set[str] = set()
    for ds in ("cf", "xk"):
        cat = load_catalogue(ds, settings)
        names = dataset(ds).chinese_names
        title = {"cf": "行政处罚 (cf)", "xk": "行政许可 (xk)"}[ds]
        out.append(f"\n## {title}\n")
        out.append("| id | field | severity | source | default | rule | decision (non-C rules) |")
        out.append("|---|---|---|---|---|---|---|")
        for r in cat.rules:
            shared = r.id.startswith("COM-") and r.id in seen
            if shared:
                continue  # shown once, under 行政处罚, with the CF_ field name
            seen.add(r.id)
            field = r.field if not r.id.startswith("COM-") else r.field.replace("CF_", "{P}_", 1)
            out.append(
                f"| {r.id} | {field} {names[r.field]} | {r.severity} | {r.source} | "
                f"{'on' if r.enabled else 'off'} | {_cell(r.doc)} | {_cell(decision(r))} |"
            )
        if ds == "xk":
            out.append("\nThe `COM-` rules listed under 行政处罚 apply to the `XK_` columns in the same way.")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Render docs/rules.md from the catalogue.")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        DOC_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {DOC_PATH}")
    else:
        print(text)


if __name__ == "__main__":
    main()
