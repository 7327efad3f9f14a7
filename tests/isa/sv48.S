/* Sv48 paging: the Sv39 checks with a fourth table level; see paging.h. */
#include "test.h"
#define SATP_MODE SATP_SV48
#define SV48 1
#include "paging.h"
