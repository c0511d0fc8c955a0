/* macro: the few macros every daemon file may want. */
#ifndef BTD_MACRO_H
#define BTD_MACRO_H

#include <stddef.h>

/* The struct that holds member at ptr (uv handles live inside their owners). */
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
