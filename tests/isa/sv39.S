/* Sv39 paging: faults (13/15/12) with stval, U/SUM/MXR, superpages incl.
 * a misaligned one, hardware A/D, sfence.vma; see paging.h. */
#include "test.h"
#define SATP_MODE SATP_SV39
#include "paging.h"
