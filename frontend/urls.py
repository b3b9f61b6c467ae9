# The dashboard pages (issue 3) plug in here.
urlpatterns = []
