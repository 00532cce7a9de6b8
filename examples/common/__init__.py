"""What the five framework examples share, so that each of them shows only its framework.

The examples (``fastapi_blog``, ``litestar_news``, ``quart_magazine``,
``django_newsroom``, ``flask_journal``) are one site under five names: the same
articles, consent policy, page layout, stylesheet and measurement script. Each
example keeps what a reader copies into a project of that framework: the
middleware's wiring, the views, and the templates that read the visitor's choice.

- ``articles``: the articles every site publishes.
- ``policy``: the cookie categories, the analytics cookie, and ``consent_settings()``.
- ``pages``: ``Site`` (what tells one site from another) and the folders of the
  shared templates and static files.
- ``newsletter``: the front page's form, which makes the session cookie necessary.
- ``serve``: ``serve(app_path, name)``, what ``python -m examples.<name>`` runs.
"""
