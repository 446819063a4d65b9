from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from hub.api import views

router = DefaultRouter()
router.register("connections", views.ConnectionViewSet)
router.register("flows", views.FlowViewSet)
router.register("mappings", views.MappingViewSet)
router.register("events", views.InboundEventViewSet)
router.register("records", views.SyncRecordViewSet)

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("", include(router.urls)),
]
