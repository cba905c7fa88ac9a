/*
 * The library's version at run time, for programs that check it against
 * the GM_VERSION they were built with.
 */
#include "version.h"

const char *gm_version(void)
{
	return GM_VERSION;
}
