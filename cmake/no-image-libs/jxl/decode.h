/*
 * Stands in for <jxl/decode.h> in master, pool and common code (CMakeLists.txt puts
 * this folder first on their include path).  Image libraries belong to the
 * worker: move the code that needs this header to src/worker/.
 */
#error "<jxl/decode.h> is an image library header: only src/worker/ may include it"
