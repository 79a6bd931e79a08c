"""The second evaluation set: hand-written article texts (tests/extractor/fixtures/own_pages/
articles.yaml, nine languages) wrapped in page templates shaped like real news sites, with
the article text as the expected body.

What it is, honestly: 27 articles x 6 templates = 162 pages. The texts are written for the
set and varied (culture, transport, farming, weather, science); the pages are generated, so
the chrome is realistic in kind (navigation, breadcrumbs, bylines, dates, share bars, inline
"read also" links, related and most-read lists with other articles' headlines and teasers,
tags, comments, cookie banners, footers, the body split around an advertisement, <br>-joined
text) but not in the endless variety of real sites. It checks that a rule generalises beyond
the 181-page benchmark; it does not replace an independent collection of real pages.

Dev-only (it reads tests/ fixtures): here, not in the shipped extractor. `own_pages_f1` scores
the extractor's clean step on it for the accuracy gate and the extraction benchmark.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import yaml

from devtools.evaluation import body_f1
from services.extractor.clean import html_body

ARTICLES = (
    Path(__file__).resolve().parents[1] / "tests" / "extractor" / "fixtures" / "own_pages"
) / "articles.yaml"

# Chrome words per language: menu, home, related, share, comments, read also, most read, tags,
# advertisement, rights, by, site name
CHROME: dict[str, dict[str, Any]] = {
    "en": dict(
        menu=["News", "Politics", "Business", "Culture", "Sport", "Contact"],
        home="Home",
        related="Related stories",
        share="Share this article",
        comments="Comments",
        read="Read also",
        most="Most read",
        tags="Tags",
        ad="Advertisement",
        rights="All rights reserved.",
        by="By",
        site="Caucasus Daily",
    ),
    "fr": dict(
        menu=["Actualités", "Politique", "Économie", "Culture", "Sport", "Contact"],
        home="Accueil",
        related="Sur le même sujet",
        share="Partager",
        comments="Commentaires",
        read="Lire aussi",
        most="Les plus lus",
        tags="Mots-clés",
        ad="Publicité",
        rights="Tous droits réservés.",
        by="Par",
        site="Le Courrier du Caucase",
    ),
    "de": dict(
        menu=["Nachrichten", "Politik", "Wirtschaft", "Kultur", "Sport", "Kontakt"],
        home="Startseite",
        related="Mehr zum Thema",
        share="Teilen",
        comments="Kommentare",
        read="Lesen Sie auch",
        most="Meistgelesen",
        tags="Schlagworte",
        ad="Anzeige",
        rights="Alle Rechte vorbehalten.",
        by="Von",
        site="Kaukasus Rundschau",
    ),
    "ru": dict(
        menu=["Новости", "Политика", "Экономика", "Культура", "Спорт", "Контакты"],
        home="Главная",
        related="Новости по теме",
        share="Поделиться",
        comments="Комментарии",
        read="Читайте также",
        most="Самое читаемое",
        tags="Теги",
        ad="Реклама",
        rights="Все права защищены.",
        by="Автор",
        site="Кавказский вестник",
    ),
    "hy": dict(
        menu=["Լուրեր", "Քաղաքականություն", "Տնտեսություն", "Մշակույթ", "Սպորտ", "Կապ"],
        home="Գլխավոր",
        related="Նմանատիպ նորություններ",
        share="Կիսվել",
        comments="Մեկնաբանություններ",
        read="Կարդացեք նաև",
        most="Ամենաընթերցվածը",
        tags="Պիտակներ",
        ad="Գովազդ",
        rights="Բոլոր իրավունքները պաշտպանված են։",
        by="Հեղինակ",
        site="Լուրեր Այսօր",
    ),
    "az": dict(
        menu=["Xəbərlər", "Siyasət", "İqtisadiyyat", "Mədəniyyət", "İdman", "Əlaqə"],
        home="Əsas səhifə",
        related="Oxşar xəbərlər",
        share="Paylaş",
        comments="Şərhlər",
        read="Həmçinin oxuyun",
        most="Ən çox oxunan",
        tags="Teqlər",
        ad="Reklam",
        rights="Bütün hüquqlar qorunur.",
        by="Müəllif",
        site="Xəbər Portalı",
    ),
    "tr": dict(
        menu=["Haberler", "Siyaset", "Ekonomi", "Kültür", "Spor", "İletişim"],
        home="Ana Sayfa",
        related="İlgili haberler",
        share="Paylaş",
        comments="Yorumlar",
        read="Ayrıca oku",
        most="En çok okunanlar",
        tags="Etiketler",
        ad="Reklam",
        rights="Tüm hakları saklıdır.",
        by="Yazar",
        site="Doğu Haber",
    ),
    "ka": dict(
        menu=["ახალი ამბები", "პოლიტიკა", "ეკონომიკა", "კულტურა", "სპორტი", "კონტაქტი"],
        home="მთავარი",
        related="მსგავსი სიახლეები",
        share="გაზიარება",
        comments="კომენტარები",
        read="ასევე წაიკითხეთ",
        most="ყველაზე კითხვადი",
        tags="თეგები",
        ad="რეკლამა",
        rights="ყველა უფლება დაცულია.",
        by="ავტორი",
        site="ქართული ამბები",
    ),
    "fa": dict(
        menu=["اخبار", "سیاست", "اقتصاد", "فرهنگ", "ورزش", "تماس"],
        home="صفحه اصلی",
        related="اخبار مرتبط",
        share="اشتراک‌گذاری",
        comments="نظرات",
        read="بیشتر بخوانید",
        most="پربازدیدترین‌ها",
        tags="برچسب‌ها",
        ad="تبلیغات",
        rights="تمامی حقوق محفوظ است.",
        by="نویسنده",
        site="خبرگزاری شمال",
    ),
}


@dataclass(frozen=True, slots=True)
class OwnPage:
    page_id: str
    lang: str
    html: str
    body: str  # the expected article text, paragraphs joined by "\n"


def load_articles(path: Path = ARTICLES) -> list[dict[str, Any]]:
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return list(data)


def _e(text: str) -> str:
    return escape(text, quote=True)


def _menu(c: dict[str, Any]) -> str:
    items = "".join(f'<li><a href="/{i}">{_e(m)}</a></li>' for i, m in enumerate(c["menu"]))
    return f'<nav class="main-menu"><ul><li><a href="/">{_e(c["home"])}</a></li>{items}</ul></nav>'


def _links(headlines: list[str], cls: str) -> str:
    items = "".join(f'<li><a href="/news/{i}">{_e(h)}</a></li>' for i, h in enumerate(headlines))
    return f'<ul class="{cls}">{items}</ul>'


def _footer(c: dict[str, Any]) -> str:
    links = "".join(f'<a href="/p/{i}">{_e(m)}</a> ' for i, m in enumerate(c["menu"]))
    return f'<footer><div class="links">{links}</div><p>© 2026 {_e(c["site"])}. {_e(c["rights"])}</p></footer>'


def _doc(lang: str, title: str, body: str) -> str:
    rtl = ' dir="rtl"' if lang == "fa" else ""
    return (
        f'<!DOCTYPE html><html lang="{lang}"{rtl}><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><script>window.dataLayer=[];</script>"
        f"<style>.ad{{display:block}}</style></head><body>{body}</body></html>"
    )


def _paras(paragraphs: list[str]) -> str:
    return "".join(f"<p>{_e(p)}</p>" for p in paragraphs)


Template = Callable[[dict[str, Any], dict[str, Any], list[dict[str, Any]]], str]


def blog(a: dict[str, Any], c: dict[str, Any], others: list[dict[str, Any]]) -> str:
    """A WordPress-like post: meta line, share bar, related posts, comments."""
    body = (
        f'<header class="site-header"><a class="logo" href="/">{_e(c["site"])}</a>{_menu(c)}</header>'
        f'<div id="primary"><article class="post"><header class="entry-header">'
        f'<h1 class="entry-title">{_e(a["headline"])}</h1><div class="entry-meta">'
        f'<span class="byline">{_e(c["by"])} <a rel="author" href="/author/1">{_e(a["author"])}</a></span>'
        f' <time datetime="2026-05-04">04.05.2026</time></div></header>'
        f'<div class="entry-content">{_paras(a["paragraphs"])}</div>'
        f'<div class="sharedaddy"><h3>{_e(c["share"])}</h3><a href="#">Facebook</a> <a href="#">X</a></div>'
        f"</article>"
        f'<section class="related-posts"><h3>{_e(c["related"])}</h3>{_links([o["headline"] for o in others], "related")}</section>'
        f'<div id="comments"><h3>{_e(c["comments"])} (2)</h3><ol class="comment-list">'
        f"<li>Anon: +1</li><li>Guest: 👍</li></ol></div></div>{_footer(c)}"
    )
    return _doc(a["lang"], f"{a['headline']} – {c['site']}", body)


def portal(a: dict[str, Any], c: dict[str, Any], others: list[dict[str, Any]]) -> str:
    """A news portal: breadcrumbs, author box, an inline "read also" link, a most-read sidebar."""
    paras = a["paragraphs"]
    inline = (
        f'<aside class="read-also"><strong>{_e(c["read"])}:</strong> '
        f'<a href="/n/1">{_e(others[0]["headline"])}</a></aside>'
    )
    story = _paras(paras[:2]) + inline + _paras(paras[2:])
    body = (
        f"{_menu(c)}<div class=\"breadcrumbs\"><a href='/'>{_e(c['home'])}</a> › "
        f"<a href='/c'>{_e(c['menu'][3])}</a></div><main><h1>{_e(a['headline'])}</h1>"
        f'<div class="author-box"><span class="author">{_e(a["author"])}</span> · <time>4 May 2026, 10:42</time></div>'
        f'<div class="story-body">{story}</div>'
        f'<div class="tags">{_e(c["tags"])}: <a href="/t/1">{_e(c["menu"][1])}</a></div></main>'
        f'<aside class="sidebar"><h4>{_e(c["most"])}</h4>{_links([o["headline"] for o in others], "most-read")}'
        f"</aside>{_footer(c)}"
    )
    return _doc(a["lang"], a["headline"], body)


def regional(a: dict[str, Any], c: dict[str, Any], others: list[dict[str, Any]]) -> str:
    """An older regional CMS: div layout, the text joined by <br> in one block, tags."""
    text = "<br><br>".join(_e(p) for p in a["paragraphs"])
    body = (
        f'<div id="top"><div class="logo">{_e(c["site"])}</div>{_menu(c)}</div>'
        f'<div id="content"><div class="news-title"><h2>{_e(a["headline"])}</h2></div>'
        f'<div class="news-date">04.05.2026 12:10</div><div class="news-text">{text}</div>'
        f'<div class="news-tags">{_e(c["tags"])}: {_e(c["menu"][2])}, {_e(c["menu"][3])}</div>'
        f'<div class="banner">{_e(c["ad"])}</div></div>'
        f'<div id="last-news"><b>{_e(c["related"])}</b>{_links([o["headline"] for o in others], "last")}</div>'
        f"{_footer(c)}"
    )
    return _doc(a["lang"], a["headline"], body)


def split(a: dict[str, Any], c: dict[str, Any], others: list[dict[str, Any]]) -> str:
    """The body in two containers around an advertisement and a photo caption."""
    paras = a["paragraphs"]
    body = (
        f"<header>{_menu(c)}</header><article><h1>{_e(a['headline'])}</h1>"
        f'<p class="meta">{_e(c["by"])} {_e(a["author"])}</p>'
        f'<div class="article-body">{_paras(paras[:1])}</div>'
        f'<div class="ad-slot"><span>{_e(c["ad"])}</span></div>'
        f'<div class="article-body article-body--cont">{_paras(paras[1:])}</div>'
        f'<div class="share">{_e(c["share"])}: <a href="#">Telegram</a> <a href="#">WhatsApp</a></div>'
        f"</article><section><h2>{_e(c['related'])}</h2>{_links([o['headline'] for o in others], 'more')}"
        f"</section>{_footer(c)}"
    )
    return _doc(a["lang"], a["headline"], body)


def minimal(a: dict[str, Any], c: dict[str, Any], others: list[dict[str, Any]]) -> str:
    """A lean mobile page: cookie banner, newsletter box, the byline as a paragraph."""
    body = (
        '<div class="cookie-banner"><p>This site uses cookies. <button>OK</button></p></div>'
        f"<main><article><h1>{_e(a['headline'])}</h1>"
        f'<p class="byline">{_e(c["by"])} {_e(a["author"])}</p>{_paras(a["paragraphs"])}</article>'
        f'<div class="newsletter"><h3>Newsletter</h3><form><input type="email"><button>OK</button></form></div>'
        f"</main>{_footer(c)}"
    )
    return _doc(a["lang"], a["headline"], body)


def teasers(a: dict[str, Any], c: dict[str, Any], others: list[dict[str, Any]]) -> str:
    """A two-column layout whose "more news" block carries teaser sentences of other stories."""
    more = "".join(
        f'<div class="teaser"><a href="/n/{i}"><h3>{_e(o["headline"])}</h3></a>'
        f"<p>{_e(o['paragraphs'][0][:90])}…</p></div>"
        for i, o in enumerate(others)
    )
    body = (
        f'<div class="layout"><div class="col-main">{_menu(c)}<h1>{_e(a["headline"])}</h1>'
        f'<div class="meta">04.05.2026 · {_e(a["author"])}</div>'
        f'<div class="text">{_paras(a["paragraphs"])}</div>'
        f'<div class="social">{_e(c["share"])}</div><div class="more-news"><h3>{_e(c["most"])}</h3>{more}</div>'
        f'</div><div class="col-side"><div class="ad">{_e(c["ad"])}</div></div></div>{_footer(c)}'
    )
    return _doc(a["lang"], a["headline"], body)


TEMPLATES: dict[str, Template] = {
    "blog": blog,
    "portal": portal,
    "regional": regional,
    "split": split,
    "minimal": minimal,
    "teasers": teasers,
}


def build_pages(path: Path = ARTICLES) -> list[OwnPage]:
    """Every article in every template; the related lists hold the other articles of its
    language (and of the next language when a language has few)."""
    articles = load_articles(path)
    pages = []
    for i, article in enumerate(articles):
        same = [o for o in articles if o["lang"] == article["lang"] and o is not article]
        others = (same + [o for o in articles if o["lang"] != article["lang"]])[:4]
        chrome = CHROME[article["lang"]]
        for name, template in TEMPLATES.items():
            pages.append(
                OwnPage(
                    page_id=f"{article['lang']}-{i:02d}-{name}",
                    lang=article["lang"],
                    html=template(article, chrome, others),
                    body="\n".join(article["paragraphs"]),
                )
            )
    return pages


def own_pages_f1(fast: bool = True) -> dict[str, float]:
    """Mean body F1 of our clean step on the second evaluation set (this module), overall
    (`extract_f1_own`) and per language (`extract_f1_own_<lang>`)."""
    per: dict[str, list[float]] = defaultdict(list)
    for page in build_pages():
        score = body_f1(html_body(page.html, fast=fast), page.body)
        per["all"].append(score)
        per[page.lang].append(score)
    out = {"extract_f1_own": round(sum(per["all"]) / len(per["all"]), 4)}
    for lang in sorted(k for k in per if k != "all"):
        out[f"extract_f1_own_{lang}"] = round(sum(per[lang]) / len(per[lang]), 4)
    return out
