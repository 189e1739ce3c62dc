import os

from django.core.wsgi import get_wsgi_application

from catalog.search import text as search_text
from config.checks import refuse_unsafe_settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
application = get_wsgi_application()
# An ImproperlyConfigured here stops gunicorn ("Worker failed to boot"), not a SystemExit, which
# it would answer by starting the worker again and again.
refuse_unsafe_settings()
# Load the Chinese segmenter's dictionary (about a second) as the web process starts rather than
# on some shopper's first search.
search_text.warm_up()
