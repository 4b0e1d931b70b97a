"""A minimal Django project serving django-cas-server, started by the SSO tests on a loopback port."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casproject.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
