#include <shim.h>
