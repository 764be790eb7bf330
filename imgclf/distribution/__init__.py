"""Distribution: tf.distribute strategies, clusters, devices and precision."""
