"""Render a generated article the way real sites and feeds publish it.

Pages carry the chrome real news sites wrap around an article (navigation, cookie banner,
advertisement slots, "related posts" of unrelated headlines, share buttons, footer, scripts), so
the extractor's cleaning is exercised. Each outlet keeps one of a few layouts, like a real site.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime
from email.utils import format_datetime
from functools import lru_cache
from html import escape
from typing import Any

from services.demo.generator import GENERATED_NOTE, GeneratedArticle, slugify

GENERATOR_NAME = "caucasus-watch demo generator"


@lru_cache(maxsize=65_536)
def _e(text: str) -> str:
    # Cached: chrome strings and template sentences repeat across thousands of pages.
    return escape(text, quote=True)


def _layout(article: GeneratedArticle) -> int:
    return zlib.crc32(article.outlet.key.encode()) % 3


def _nav(chrome: dict[str, str], home: str) -> str:
    items = ("home", "politics", "world", "economy", "sport", "opinion")
    links = "".join(
        f'<li><a href="{home}{"" if k == "home" else k + "/"}">{_e(chrome[k])}</a></li>'
        for k in items
    )
    return f'<nav class="main-nav"><ul>{links}</ul></nav>'


def _related(chrome: dict[str, str], headlines: Sequence[str], home: str) -> str:
    items = "".join(f'<li><a href="{home}news/{slugify(h)}">{_e(h)}</a></li>' for h in headlines)
    return f'<aside class="related-posts"><h3>{_e(chrome["related"])}</h3><ul>{items}</ul></aside>'


def render_html(article: GeneratedArticle, lang: dict[str, Any]) -> str:
    chrome: dict[str, str] = lang["chrome"]
    outlet = article.outlet
    home = outlet.home
    title = _e(article.title)
    published = article.published.isoformat()
    paragraphs = [f"<p>{_e(p)}</p>" for p in article.paragraphs[:-1]]
    advert = (
        f'<div class="ad-slot" data-ad="inarticle"><span>{_e(chrome["advert"])}</span>'
        '<div id="div-gpt-ad-1"></div></div>'
    )
    paragraphs.insert(min(2, len(paragraphs)), advert)
    pool: list[str] = lang["related"]
    variant = zlib.crc32(article.article_id.encode())
    start = variant % len(pool)
    others = pool[start:] + pool[:start]
    related = _related(chrome, others[:4], home)
    # Inside the article body too, as real sites do: a "read also" teaser, a photo credit, tags.
    if variant & 1 and len(paragraphs) > 4:
        teaser = others[-1]
        paragraphs.insert(
            4,
            f'<p class="read-also"><strong>{_e(chrome["related"])}:</strong> '
            f'<a href="{home}news/{slugify(teaser)}">{_e(teaser)}</a></p>',
        )
    if variant & 2:
        paragraphs.insert(
            0,
            f'<figure class="article-image"><img src="{home}uploads/{article.article_id}.jpg" '
            f'alt="{title}"><figcaption>&copy; {_e(outlet.name)}</figcaption></figure>',
        )
    if variant & 4:
        paragraphs.append(
            f'<ul class="tags"><li><a href="{home}tag/{article.category}">'
            f"#{_e(article.category)}</a></li></ul>"
        )
    body = "\n".join(paragraphs)
    note = f'<p class="generated-note"><em>{_e(article.paragraphs[-1])}</em></p>'
    share = (
        f'<div class="share"><span>{_e(chrome["share"])}</span> '
        '<a href="#" class="fb">Facebook</a> <a href="#" class="tw">X</a> '
        '<a href="#" class="tg">Telegram</a></div>'
    )
    cookie = (
        f'<div id="cookie-consent" class="cookie-banner"><p>{_e(chrome["cookies"])}</p>'
        f"<button>{_e(chrome['accept'])}</button></div>"
    )
    footer = (
        f'<footer class="site-footer"><p>&copy; {article.published.year} {_e(outlet.name)}. '
        f"{_e(chrome['rights'])}</p><p>{_e(chrome['subscribe'])}</p>"
        f"<p>{_e(GENERATED_NOTE)} {_e(GENERATOR_NAME)}</p></footer>"
    )
    time_tag = f'<time datetime="{published}">{_e(published[:16].replace("T", " "))}</time>'
    byline = f'<span class="byline">{_e(article.author)}</span>'
    layout = _layout(article)
    if layout == 0:
        main = (
            f'<main><article class="post"><header><h1 class="entry-title">{title}</h1>'
            f'<div class="meta">{byline} {time_tag}</div></header>'
            f'<div class="entry-content">\n{body}\n{note}</div>{share}</article>{related}</main>'
        )
    elif layout == 1:
        main = (
            '<div class="container"><div class="row"><div class="col-md-8">'
            f'<ol class="breadcrumb"><li><a href="{home}">{_e(chrome["home"])}</a></li>'
            f'<li>{_e(chrome["politics"])}</li></ol><h1 itemprop="headline">{title}</h1>'
            f'{time_tag}<div itemprop="articleBody" class="article-body">\n{body}\n{note}</div>'
            f'{share}</div><div class="col-md-4 sidebar">{related}'
            f'<div class="ad-slot"><span>{_e(chrome["advert"])}</span></div></div></div></div>'
        )
    else:
        main = (
            f'<div id="content"><section class="news-item"><h1>{title}</h1>'
            f'<p class="date">{time_tag} | {byline}</p><div class="news-text">\n{body}\n{note}'
            f'</div><a class="more" href="{home}">{_e(chrome["read_more"])}</a></section>'
            f"{related}</div>"
        )
    return (
        f'<!DOCTYPE html>\n<html lang="{article.language}"><head><meta charset="utf-8">'
        f"<title>{title} | {_e(outlet.name)}</title>"
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="{GENERATOR_NAME}">'
        f'<meta name="cwatch:generated" content="true">'
        f'<meta property="og:title" content="{title}">'
        f'<meta property="og:site_name" content="{_e(outlet.name)}">'
        f'<meta property="og:url" content="{_e(article.url)}">'
        f'<meta property="article:published_time" content="{published}">'
        f'<meta name="author" content="{_e(article.author)}">'
        f'<link rel="canonical" href="{_e(article.url)}">'
        f"<script>window.dataLayer=window.dataLayer||[];function gtag(){{dataLayer.push(arguments)}}</script>"
        f'</head><body>{cookie}<header class="site-header"><a class="logo" href="{home}">'
        f"{_e(outlet.name)}</a>{_nav(chrome, home)}</header>\n{main}\n{footer}"
        '<script src="/static/js/app.min.js"></script></body></html>\n'
    )


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _content_html(article: GeneratedArticle) -> str:
    return "".join(f"<p>{_e(p)}</p>" for p in article.paragraphs)


def _rfc822(when: datetime) -> str:
    return format_datetime(when)


def render_rss(articles: Sequence[GeneratedArticle], page: int) -> str:
    """RSS 2.0 with content:encoded, one outlet's articles."""
    outlet = articles[0].outlet
    items = []
    for a in articles:
        items.append(
            f"<item><title>{_e(a.title)}</title><link>{_e(a.url)}</link>"
            f'<guid isPermaLink="true">{_e(a.url)}</guid><pubDate>{_rfc822(a.published)}</pubDate>'
            f"<dc:creator>{_e(a.author)}</dc:creator><category>{_e(a.category)}</category>"
            f"<category>generated demo</category>"
            f"<description>{_e(a.paragraphs[0])}</description>"
            f"<content:encoded>{_cdata(_content_html(a))}</content:encoded></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
        f"<title>{_e(outlet.name)}</title><link>{outlet.home}</link>"
        f'<atom:link href="{outlet.home}feed/{page}.xml" rel="self" type="application/rss+xml"/>'
        f"<description>{_e(GENERATED_NOTE)} Demo feed of {_e(outlet.name)}, "
        f"generated by {GENERATOR_NAME}</description><language>{outlet.language}</language>"
        f"<generator>{GENERATOR_NAME}</generator>\n" + "\n".join(items) + "\n</channel></rss>\n"
    )


def render_atom(articles: Sequence[GeneratedArticle], page: int) -> str:
    """Atom 1.0 with full HTML content, one outlet's articles."""
    outlet = articles[0].outlet
    updated = max(a.published for a in articles).isoformat()
    entries = []
    for a in articles:
        entries.append(
            f"<entry><title>{_e(a.title)}</title>"
            f'<link rel="alternate" href="{_e(a.url)}"/><id>{_e(a.url)}</id>'
            f"<published>{a.published.isoformat()}</published>"
            f"<updated>{a.published.isoformat()}</updated>"
            f"<author><name>{_e(a.author)}</name></author>"
            f'<category term="{_e(a.category)}"/><category term="generated demo"/>'
            f"<summary>{_e(a.paragraphs[0])}</summary>"
            f'<content type="html">{_e(_content_html(a))}</content></entry>'
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{outlet.language}">'
        f"<title>{_e(outlet.name)}</title>"
        f"<subtitle>{_e(GENERATED_NOTE)} Demo feed generated by {GENERATOR_NAME}</subtitle>"
        f'<link rel="alternate" href="{outlet.home}"/>'
        f'<link rel="self" href="{outlet.home}feed/{page}.atom"/>'
        f"<id>{outlet.home}</id><updated>{updated}</updated>"
        f"<generator>{GENERATOR_NAME}</generator>\n" + "\n".join(entries) + "\n</feed>\n"
    )


def render_txt(article: GeneratedArticle) -> str:
    return article.title + "\n\n" + "\n\n".join(article.paragraphs) + "\n"
