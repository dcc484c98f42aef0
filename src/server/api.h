/* api: the /api/v1 route tables, one per resource module. */
#ifndef OBJECTD_API_H
#define OBJECTD_API_H

#include <stddef.h>

#include "router.h"

extern const route api_object_routes[];
extern const size_t api_object_route_count;

extern const route api_series_routes[];
extern const size_t api_series_route_count;

extern const route api_analysis_routes[];
extern const size_t api_analysis_route_count;

#endif
