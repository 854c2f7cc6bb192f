"""`sitekit report --html DIR`: one self-contained static page of the whole fleet (no server, no script, no
external asset), with inline SVG charts drawn from small templates in `svg.py`."""
