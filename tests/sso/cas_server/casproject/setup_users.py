"""Create the test users and the service pattern for Tifa on loopback (run with manage.py shell)."""

from cas_server.models import ReplaceAttributName, ServicePattern
from django.contrib.auth.models import Group, User

PASSWORD = "cas-pass-123"
USERS = [  # username, display name, department (None: no attribute released)
    ("20260001", "张三", "马克思主义学院"),
    ("20260002", "李四", None),
    ("20269999", "王五", "新设学院"),
]
for username, name, department in USERS:
    user = User.objects.create_user(username, password=PASSWORD, first_name=name)
    if department:
        user.groups.add(Group.objects.get_or_create(name=department)[0])

pattern = ServicePattern.objects.create(
    pos=1, name="tifa", pattern=r"^http://127\.0\.0\.1:\d+/login/cas$", single_log_out=True)
# Released attributes: first_name as "name", and "department"; never the password hash.
ReplaceAttributName.objects.create(name="first_name", replace="name", service_pattern=pattern)
ReplaceAttributName.objects.create(name="department", service_pattern=pattern)
