/*
 * Stands in for <jxl/encode.h> in master, pool and common code (CMakeLists.txt puts
 * this folder first on their include path).  Image libraries belong to the
 * worker: move the code that needs this header to src/worker/.
 */
#error "<jxl/encode.h> is an image library header: only src/worker/ may include it"
