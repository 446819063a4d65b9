from django.contrib import admin
from django.urls import include, path

from connectors.infor_m3.ims import IMSView
from connectors.webhooks import WebhookView
from monitoring.health import healthz, metrics

admin.site.site_header = "Integration hub"
admin.site.site_title = "Integration hub"
admin.site.index_title = "Connections, flows and the sync log"
_admin_index = admin.site.index


def _index_with_dashboard(request, extra_context=None):
    """The admin's home is the operator's dashboard (monitoring.dashboard), then the usual app list."""
    from monitoring import dashboard

    context = {**(extra_context or {}), "dashboard": dashboard.context(request.GET.get("window", "day"))}
    return _admin_index(request, context)


admin.site.index = _index_with_dashboard

urlpatterns = [
    path("webhooks/<slug:slug>/", WebhookView.as_view(), name="webhook"),
    path("ion/<slug:slug>/service/ping", IMSView.as_view(), name="ion-ping"),
    path("ion/<slug:slug>/v3/multipartMessage", IMSView.as_view(), name="ion-message"),
    path("api/", include("hub.api.urls")),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
]
