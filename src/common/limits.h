/* Limits every layer agrees on (config parser, VMM options, engines, xend). */
#ifndef XENO_COMMON_LIMITS_H
#define XENO_COMMON_LIMITS_H

/* The most vCPUs a domain may have, on any engine. */
#define XENO_MAX_VCPUS 64

#endif
