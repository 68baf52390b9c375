"""Settings for the test suite: production settings, with the secrets and HTTPS redirect that tests cannot have."""

import os

os.environ.setdefault("SECRET_KEY", "botyard-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ")
os.environ.setdefault("FIELD_ENCRYPTION_KEY", "dGVzdC1maWVsZC1lbmNyeXB0aW9uLWtleS0zMi1ieXQ=")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")

from config.settings import *  # noqa: F403

# Live-server threads and test threads open their own connections: close them after each request so the
# test database can be dropped at the end of the run.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; hashing is Django's to test
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
STATIC_ROOT = None  # tests serve static files from the source folders, without collectstatic
WHITENOISE_USE_FINDERS = True
