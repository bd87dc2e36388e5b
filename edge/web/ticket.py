"""The weighing ticket (磅单): one completed weighing as a printable page, in Chinese (the
status page's ``/weighings/<id>/ticket``, for a logged-in user)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

from edge.domain.goods import tonnes_text
from edge.ledger.rows import StoredWeighing

TIME = "%Y-%m-%d %H:%M:%S"

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>磅单 {number}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; margin: 2em; }}
h1 {{ text-align: center; font-size: 1.6em; margin: 0; }}
h2 {{ text-align: center; font-size: 1.2em; font-weight: normal; margin: .3em 0 1em; }}
table {{ border-collapse: collapse; width: 100%; max-width: 42em; margin: 0 auto; }}
th, td {{ border: 1px solid #000; padding: .45em .7em; text-align: left; }}
th {{ width: 9em; background: #f2f2f2; }}
.sign {{ max-width: 42em; margin: 2em auto 0; display: flex; justify-content: space-between; }}
button {{ display: block; margin: 1.5em auto; font-size: 1em; }}
.sheet {{ display: flex; gap: 1em; max-width: 62em; margin: 0 auto; align-items: flex-start; }}
.sheet table {{ flex: 1; }}
.photos {{ width: 18em; display: flex; flex-direction: column; gap: .6em; }}
figure {{ margin: 0; }}
figure img, figure .none {{ display: block; width: 100%; aspect-ratio: 4 / 3; object-fit: contain;
  border: 1px solid #000; background: #f2f2f2; }}
figure .none {{ display: flex; align-items: center; justify-content: center; color: #555; }}
figcaption {{ font-size: .9em; text-align: center; }}
@media print {{
  @page {{ size: A5 landscape; margin: 8mm 10mm; }}
  body {{ margin: 0; font-size: 10pt; }}
  h1 {{ font-size: 15pt; }}
  h2 {{ font-size: 11pt; margin: .2em 0 .5em; }}
  table, .sign, .sheet {{ max-width: none; }}
  .sheet {{ gap: 3mm; }}
  .photos {{ width: 50mm; gap: 2mm; }}
  figure img, figure .none {{ background: none; }}
  th, td {{ padding: .2em .5em; }}
  .sign {{ margin-top: 1.2em; }}
  button {{ display: none; }}
  th {{ background: none; }}
}}
</style></head><body>
<h1>{enterprise}</h1>
<h2>过磅单 No. {number}</h2>
<div class="sheet"><table>
{rows}
</table>
<div class="photos">{photos}</div></div>
<div class="sign"><span>司磅员：{operator}</span><span>司机签字：__________</span></div>
<button onclick="window.print()">打印</button>
</body></html>
"""


def _kg(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f} kg（{tonnes_text(value)} t）"


def ticket_html(
    w: StoredWeighing,
    enterprise: str,
    operator: str,
    zone: Any,
    scale_names: Mapping[str, str] | None = None,
    photos: tuple[Sequence[str], Sequence[str]] = ((), ()),
) -> str:
    """The ticket of a completed weighing: enterprise, plate, goods, gross, tare and net (kg
    and t), both weighings' times, scales (their ``scale_names``, by key: ``[scales.*] name``)
    and pass serials (流水号), the operator printing it, and a photo of the truck at each
    weighing — the first of ``photos`` (URLs: the first weighing's, the second's; as
    :meth:`edge.ledger.weighings.WeighingLedger.weighing_photo_sides` gives them), 无照片 in
    its place when there is none. Every value is HTML-escaped."""
    names = scale_names or {}
    first_scale = names.get(w.first_scale, w.first_scale)
    second_scale = names.get(w.second_scale or "", w.second_scale or "")

    def when(at: float | None) -> str:
        return "" if at is None else datetime.fromtimestamp(at, zone).strftime(TIME)

    tare = _kg(w.tare_kg) + ("（预置皮重）" if w.tare_preset else "")
    rows = [
        ("车牌号", w.plate or "未识别车牌"),
        ("货物名称", w.goods or "未定"),
        ("毛重", _kg(w.gross_kg)),
        ("皮重", tare),
        ("净重", _kg(w.net_kg)),
        ("一次过磅", f"{when(w.first_at)}  {first_scale}  {_kg(w.first_kg)}"),
        ("一次流水号", w.first_serial or ""),
        (
            "二次过磅",
            ""
            if w.second_at is None
            else f"{when(w.second_at)}  {second_scale}  {_kg(w.second_kg)}",
        ),
        ("二次流水号", w.second_serial or ""),
        ("上报运输量", f"{w.ysl} t" if w.ysl else (w.goods_error or "未上报")),
    ]
    sides = [("一次过磅照片", photos[0])]
    if w.second_at is not None:  # a preset tare's weighing has one side
        sides.append(("二次过磅照片", photos[1]))
    shown = "".join(
        f'<figure><img src="{escape(urls[0])}" alt="照片无法显示"><figcaption>{caption}'
        "</figcaption></figure>"
        if urls
        else f'<figure><div class="none">无照片</div><figcaption>{caption}</figcaption></figure>'
        for caption, urls in sides
    )
    return _PAGE.format(
        photos=shown,
        enterprise=escape(enterprise),
        number=f"{w.id:06d}",
        operator=escape(operator),
        rows="\n".join(f"<tr><th>{name}</th><td>{escape(value)}</td></tr>" for name, value in rows),
    )
