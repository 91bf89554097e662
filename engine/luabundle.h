/* luabundle.h: the runtime Lua modules linked into the binary as bytecode. */
#ifndef LNG_LUABUNDLE_H
#define LNG_LUABUNDLE_H
#include <stddef.h>
struct lua_module { const char *name; const char *code; size_t size; };
extern const struct lua_module lua_modules[];   /* ends with name == NULL */
#endif
