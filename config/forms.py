from django.forms.renderers import TemplatesSetting


class FormRenderer(TemplatesSetting):
    """Renders every form with the project's accessible, Bootstrap-styled layout."""

    form_template_name = "forms/div.html"
