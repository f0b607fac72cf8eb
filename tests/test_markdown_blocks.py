"""Reading back the report's Markdown for report.html: paragraphs, pipe tables, bold, escapes."""

from __future__ import annotations

import pandas as pd

from reports.html_report import frame_table
from reports.markdown import escape_markdown
from reports.markdown_blocks import markdown_blocks


def test_tables_and_paragraphs_come_back_in_order_with_bold_and_escapes():
    name = escape_markdown("UDEAN_x | *star*")
    text = "\n".join(
        [
            "*A caption.*",
            "",
            "| Method | PSNR (dB) |",
            "| :--- | :---: |",
            f"| {name} | **31.48 ± 0.35** |",
            "| Tricubic | 32.85 ± 0.37 |",
            "",
            "Mean ± std <over> subjects.",
        ]
    )
    blocks = markdown_blocks(text)
    assert [block.table is not None for block in blocks] == [False, True, False]
    assert str(blocks[0].paragraph) == "<em>A caption.</em>"
    table = blocks[1].table
    assert [str(cell) for cell in table.header] == ["Method", "PSNR (dB)"]
    assert table.align == ["left", "center"]
    assert str(table.rows[0][0]) == "UDEAN_x | *star*"
    assert str(table.rows[0][1]) == "<strong>31.48 ± 0.35</strong>"
    assert table.sort_keys[0] == ["UDEAN_x | *star*", "31.48 ± 0.35"]
    assert str(blocks[2].paragraph) == "Mean ± std &lt;over&gt; subjects."  # escaped for HTML


def test_a_frame_becomes_a_table_with_mean_and_std_joined():
    frame = pd.DataFrame({"method": ["udean"], "psnr_mean": [31.4812], "psnr_std": [0.3512]})
    table = frame_table(frame, decimals=2)
    assert [str(cell) for cell in table.header] == ["method", "psnr"]
    assert [str(cell) for cell in table.rows[0]] == ["udean", "31.48 ± 0.35"]
