from django.contrib import admin
from django.urls import include, path

from connectors.webhooks import WebhookView

admin.site.site_header = "Integration hub"
admin.site.site_title = "Integration hub"
admin.site.index_title = "Connections, flows and the sync log"

urlpatterns = [
    path("webhooks/<slug:slug>/", WebhookView.as_view(), name="webhook"),
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
]
