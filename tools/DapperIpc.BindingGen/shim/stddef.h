/* The generator parses with -nostdinc: these stand-ins give the standard type names
   (which the generator maps by name) without needing clang's resource headers. */
#ifndef DAPPER_BINDGEN_STDDEF_H
#define DAPPER_BINDGEN_STDDEF_H
typedef unsigned long size_t;
#define NULL ((void *)0)
#endif
