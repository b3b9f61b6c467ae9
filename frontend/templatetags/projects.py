from django import template

from frontend.projects import switcher

register = template.Library()


@register.inclusion_tag("frontend/_switcher.html", takes_context=True)
def project_switcher(context):
    request = context["request"]
    return {**switcher(request), "next": request.get_full_path(), "csrf_token": context.get("csrf_token")}
