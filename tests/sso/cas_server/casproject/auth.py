"""Django users as CAS users; the first group a user belongs to is released as "department"."""

from cas_server.auth import DjangoAuthUser


class DepartmentAuthUser(DjangoAuthUser):
    def attributs(self):  # noqa: ANN201  (django-cas-server's API spelling)
        attributes = super().attributs()
        if self.user:
            group = self.user.groups.order_by("id").first()
            if group is not None:
                attributes["department"] = group.name
        return attributes
