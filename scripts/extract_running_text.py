#!/usr/bin/env python3
"""Extracts plain running English text from HTML documentation (stdlib only).

Keeps the text of <p> paragraphs outside data tables, code blocks and navigation, one
paragraph per line-separated block, so perplexity and calibration see prose, not
word lists, command lines or tables. Paragraphs under 8 words, or where fewer
than 70% of the words are plain words, are dropped (headings, captions, commands).

usage: extract_running_text.py OUT.txt FILE.html... (files in the order given)
"""
import html.parser
import re
import sys

SKIP_TAGS = {"pre", "script", "style"}
# DocBook sets notes, tips and warnings (prose) as tables with these summaries; other tables are data.
ADMONITION_TABLES = {"Note", "Tip", "Caution", "Warning", "Important"}
SKIP_DIV_CLASSES = {"navheader", "navfooter", "toc", "sphinxsidebar", "related", "footer", "highlight"}
VOID_TAGS = {"br", "img", "hr", "meta", "link", "input", "wbr", "col", "area", "base", "source"}
PLAIN_WORD = re.compile(r"^[A-Za-z][A-Za-z'\-]*[.,;:!?)\"]*$")


class ParagraphParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []        # open tags, each (tag, skipped)
        self.skip_depth = 0    # how many open tags hide their content
        self.in_p = 0
        self.buf = []
        self.paragraphs = []

    def handle_starttag(self, tag, attrs):
        if tag in VOID_TAGS:
            return
        classes = set((dict(attrs).get("class") or "").split())
        skip = tag in SKIP_TAGS or (tag == "div" and bool(classes & SKIP_DIV_CLASSES))
        skip = skip or (tag == "table" and dict(attrs).get("summary") not in ADMONITION_TABLES)
        self.stack.append((tag, skip))
        self.skip_depth += skip
        if tag == "p":
            self.in_p += 1
            if self.in_p == 1:
                self.buf = []

    def handle_endtag(self, tag):
        # Close up to the matching open tag (HTML in the wild leaves some unclosed).
        if not any(t == tag for t, _ in self.stack):
            return
        while self.stack:
            t, skip = self.stack.pop()
            self.skip_depth -= skip
            if t == "p":
                self.in_p -= 1
                if self.in_p == 0:
                    self.finish_paragraph()
            if t == tag:
                break

    def handle_data(self, data):
        if self.in_p and not self.skip_depth:
            self.buf.append(data)

    def finish_paragraph(self):
        text = " ".join("".join(self.buf).split())
        self.buf = []
        words = text.split()
        if len(words) < 8:
            return
        if sum(1 for w in words if PLAIN_WORD.match(w)) < 0.7 * len(words):
            return
        self.paragraphs.append(text)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, files = sys.argv[1], sys.argv[2:]
    paragraphs = []
    for f in files:
        p = ParagraphParser()
        with open(f, encoding="utf-8", errors="strict") as fh:
            p.feed(fh.read())
        p.close()
        paragraphs.extend(p.paragraphs)
    text = "\n\n".join(paragraphs) + "\n"
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(text)
    print(f"{out}: {len(paragraphs)} paragraphs, {len(text.split())} words", file=sys.stderr)


if __name__ == "__main__":
    main()
