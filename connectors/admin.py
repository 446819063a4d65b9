from django import forms
from django.contrib import admin, messages
from simple_history.admin import SimpleHistoryAdmin

from connectors import circuit, registry
from connectors.base import ConnectorError
from connectors.infor_m3.ionapi import parse_ionapi
from connectors.models import Connection

# Every secret any connector declares, as write-only form fields: blank keeps the stored value.
SECRET_FIELDS = {f.name: f for cls in registry.CONNECTORS.values() for f in cls.secret_fields}


class ConnectionForm(forms.ModelForm):
    base_url = forms.URLField(required=False, assume_scheme="https", label="Base URL",
                              help_text=Connection._meta.get_field("base_url").help_text)
    ionapi_file = forms.FileField(required=False, label="Upload .ionapi file",
                                  help_text="Infor M3 only. Stored encrypted; never shown again.")
    clear_secrets = forms.BooleanField(required=False, help_text="Forget every stored secret of this connection.")

    class Meta:
        model = Connection
        fields = ["name", "slug", "kind", "base_url", "auth_kind", "enabled", "settings", "rate_limit", "rate_burst"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = set(self.instance.secret_names()) if self.instance.pk else set()
        for name in SECRET_FIELDS:
            field = self.fields.get(f"secret_{name}")
            if field:
                field.help_text += " (a value is stored; leave blank to keep it)" if name in stored else " (not set)"
        if "ionapi" in stored:
            self.fields["ionapi_file"].help_text += " A file is stored; upload another to replace it."

    def clean_ionapi_file(self):
        upload = self.cleaned_data.get("ionapi_file")
        if not upload:
            return None
        try:
            return parse_ionapi(upload.read())
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self):
        cleaned = super().clean()
        kind, auth_kind = cleaned.get("kind"), cleaned.get("auth_kind")
        if kind and auth_kind and auth_kind not in registry.CONNECTORS[kind].auth_kinds:
            allowed = ", ".join(registry.CONNECTORS[kind].auth_kinds)
            self.add_error("auth_kind", f"{registry.CONNECTORS[kind].label} supports: {allowed}")
        return cleaned

    def save(self, commit=True):
        import json

        connection = super().save(commit=False)
        if self.cleaned_data.get("clear_secrets"):
            connection.secrets = "{}"
            connection._secrets_cache = None
        for name in SECRET_FIELDS:
            value = self.cleaned_data.get(f"secret_{name}")
            if value:
                connection.set_secret(name, value)
        if self.cleaned_data.get("ionapi_file"):
            connection.set_secret("ionapi", json.dumps(self.cleaned_data["ionapi_file"]))
        if commit:
            connection.save()
        return connection


# One password field per declared secret (the .ionapi file is uploaded instead), declared on a
# subclass so the admin's form factory sees them as the form's own fields.
ConnectionForm = type("ConnectionForm", (ConnectionForm,), {
    f"secret_{name}": forms.CharField(
        required=False, label=spec.label, help_text=spec.help_text,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    for name, spec in SECRET_FIELDS.items() if name != "ionapi"
})
SECRET_FORM_FIELDS = [f"secret_{n}" for n in SECRET_FIELDS if n != "ionapi"] + ["ionapi_file", "clear_secrets"]


@admin.register(Connection)
class ConnectionAdmin(SimpleHistoryAdmin):
    form = ConnectionForm
    list_display = ["name", "kind", "slug", "enabled", "circuit", "secrets_stored", "last_error_short", "last_error_at"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "slug", "base_url"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["webhook_url", "circuit", "circuit_failures", "circuit_opened_at", "last_error", "last_error_at",
                       "created_at", "updated_at"]
    actions = ["test_connection", "pause", "resume", "close_circuit"]

    def get_fieldsets(self, request, obj=None):
        return [
            (None, {"fields": ["name", "slug", "kind", "base_url", "auth_kind", "enabled", "settings"]}),
            ("Secrets (write-only, stored encrypted)", {"fields": SECRET_FORM_FIELDS}),
            ("Rate budget (shared by every worker)", {"fields": ["rate_limit", "rate_burst"]}),
            ("Status", {"fields": self.readonly_fields}),
        ]

    @admin.display(description="secrets stored")
    def secrets_stored(self, obj):
        return ", ".join(obj.secret_names()) or "none"

    @admin.display(description="last error")
    def last_error_short(self, obj):
        return obj.last_error[:80]

    @admin.display(description="webhook URL")
    def webhook_url(self, obj):
        return f"/webhooks/{obj.slug}/" if obj.slug else ""

    @admin.action(description="Pause (deliveries to it wait)", permissions=["pause"])
    def pause(self, request, queryset):
        self.message_user(request, f"Paused {queryset.update(enabled=False)} connection(s).", messages.SUCCESS)

    @admin.action(description="Resume", permissions=["pause"])
    def resume(self, request, queryset):
        self.message_user(request, f"Resumed {queryset.update(enabled=True)} connection(s).", messages.SUCCESS)

    @admin.action(description="Close the circuit (the system is back)", permissions=["pause"])
    def close_circuit(self, request, queryset):
        for connection in queryset:
            circuit.close(connection.pk)
        self.message_user(request, "Circuit closed; waiting deliveries go at their next try.", messages.SUCCESS)

    def has_pause_permission(self, request):
        return request.user.has_perm("connectors.pause_connection")

    @admin.action(description="Test connection")
    def test_connection(self, request, queryset):
        for connection in queryset:
            try:
                message = connection.connector().test_connection()
            except ConnectorError as exc:
                self.message_user(request, f"{connection}: {exc.message}", messages.ERROR)
            except NotImplementedError:
                self.message_user(request, f"{connection}: this system has no connection test yet", messages.WARNING)
            else:
                self.message_user(request, f"{connection}: {message}", messages.SUCCESS)
