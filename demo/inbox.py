"""The demo's file-only department (jtysj, 方式三): a 行政处罚 file in the national template, as a clerk exports it
from a spreadsheet (GB18030 CSV with the template's Chinese headers), with three planted problems."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from pathlib import Path

from demo.identities import Faker
from national import dataset

#: The department's code and credit code (departments/jtysj.yaml).
CODE = "jtysj"
USCC = "11140300MB1957338B"
NAME = "阳泉市交通运输局"
#: A unit that is not jtysj (the planted row of another unit is refused).
OTHER_UNIT = "11140300MB1957303Q"
FILE_NAME = "2026年10月行政处罚.csv"

_CASES = [
    ("未按规定携带道路运输证", "《道路运输条例》第六十八条", "警告", None),
    ("擅自改装已取得车辆营运证的车辆", "《道路运输条例》第七十条", "罚款", "0.5"),
    ("超限运输车辆未按规定办理许可", "《公路法》第七十六条", "罚款", "0.3"),
    ("出租汽车驾驶员拒载", "《巡游出租汽车经营服务管理规定》第四十七条", "罚款", "0.05"),
]


def penalty_file(rows: int = 40, seed: int = 2026) -> bytes:
    """The file's bytes (the same for the same arguments: a second demo run drops the same file, which the inbox
    recognises). Rows 5, 12 and 20 (file rows 6, 13, 21) carry a bad date, a missing fine and another unit's
    code."""
    rng = random.Random(seed)
    fk = Faker(rng, ["物流", "运输", "客运"])
    fields = dataset("cf").fields
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([f.name_zh for f in fields])
    for i in range(1, rows + 1):
        party = fk.company()
        decided = dt.date(2026, 10, 1) + dt.timedelta(days=rng.randrange(28))
        what, basis, kind, fine = rng.choice(_CASES)
        values = {
            "CF_XDR_MC": party.name, "CF_XDR_LB": "法人及非法人组织", "CF_XDR_SHXYM": party.uscc, "CF_FRDB": party.frdb,
            "CF_WSH": f"阳交执罚〔2026〕{1000 + i}号", "CF_WFXW": f"违反{basis}", "CF_SY": what, "CF_YJ": basis,
            "CF_CFLB": kind, "CF_NR": "警告" if fine is None else f"罚款{int(float(fine) * 10000)}元", "CF_NR_FK": fine,
            "CF_JDRQ": decided.isoformat(), "CF_YXQ": (decided + dt.timedelta(days=365)).isoformat(),
            "CF_CFJG": NAME, "CF_CFJGDM": USCC, "CF_SJLY": NAME, "CF_SJLYDM": USCC,
            # extension fields beyond the 2019 template (issue 17 item 11), shown on the public page
            "CF_AJMC": f"{party.name}{what}案",
            "CF_JJQD": "如不服本决定，可在收到本决定书之日起六十日内申请行政复议，或者在六个月内依法提起行政诉讼。",
        }
        if i == 5:
            values["CF_JDRQ"] = "2026-02-30"
        if i == 12:
            values["CF_CFLB"], values["CF_NR_FK"] = "罚款", None
        if i == 20:
            values["CF_SJLYDM"] = OTHER_UNIT
        writer.writerow([values.get(f.code) or "" for f in fields])
    return out.getvalue().encode("gb18030")


def drop_penalty_file(inbox: Path) -> Path:
    """Write the demo file into the department's inbox folder (atomically: under a ``.part`` name the inbox
    leaves alone, then renamed)."""
    inbox.mkdir(parents=True, exist_ok=True)
    part = inbox / (FILE_NAME + ".part")
    part.write_bytes(penalty_file())
    final = inbox / FILE_NAME
    part.replace(final)
    return final
