package startupbench;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.beans.factory.config.BeanDefinition;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.boot.context.metrics.buffering.StartupTimeline;
import org.springframework.core.metrics.StartupStep;

/**
 * Prints the startup steps that belong to the starter, and the time of its
 * post-processors, as lines the script can aggregate (wall ms, then CPU ms of the thread):
 * <pre>
 * STEP   total self total_cpu self_cpu step-name bean-or-tags owner   (owner: the class of ours charged)
 * CHILD  total step-name bean-or-tags        a step not of ours nested in one of ours
 * BPP    bean class phase calls ms nested own cpu nested_cpu own_cpu
 * STEPS  recorded=.. ours=.. ours_total_ms=.. ours_self_ms=.. ours_self_cpu_ms=.. all_instantiate=.. ...
 * OURS   steps_self_ms=.. post_processors_ms=.. total_ms=.. steps_self_cpu_ms=.. post_processors_cpu_ms=.. total_cpu_ms=..
 * </pre>
 * A step is the starter's if its bean name, its bean's type, the class or factory bean
 * that defines the bean, or one of its tags names a class in the package. total is the
 * step's duration; self leaves out the steps nested in it (including the post-processor
 * calls that {@link PostProcessorTimer} wraps in steps). ours_total_ms adds up the
 * outermost steps of ours (one of ours created while another is being created counts
 * once); ours_self_ms adds up self of every step of ours.
 * <p>
 * For each post-processor phase (before, after, smart-initialize, event), ms is the time
 * of all calls, nested the time of the steps (bean creations) nested in them, and own the
 * difference: what shows in no step. OURS adds the two without counting any time twice.
 */
final class StepReport {

	private final String prefix;

	private final List<StartupTimeline.TimelineEvent> events;

	private final CpuTimingStartup startup;

	private final ConfigurableListableBeanFactory beanFactory;

	private final PostProcessorTimer timer;

	StepReport(String prefix, CpuTimingStartup startup, ConfigurableListableBeanFactory beanFactory,
			PostProcessorTimer timer) {
		this.prefix = prefix;
		this.startup = startup;
		this.events = startup.buffering().getBufferedTimeline().getEvents();
		this.beanFactory = beanFactory;
		this.timer = timer;
	}

	private long cpu(StartupStep step) {
		return Math.max(0, this.startup.cpuNanos(step.getId()));
	}

	void print(PrintStream out) {
		Map<Long, StartupTimeline.TimelineEvent> byId = new HashMap<>();
		Map<Long, Long> childNanos = new HashMap<>();
		Map<Long, Long> childCpu = new HashMap<>();
		for (StartupTimeline.TimelineEvent event : this.events) {
			byId.put(event.getStartupStep().getId(), event);
		}
		for (StartupTimeline.TimelineEvent event : this.events) {
			Long parent = event.getStartupStep().getParentId();
			if (parent != null) {
				childNanos.merge(parent, event.getDuration().toNanos(), Long::sum);
				childCpu.merge(parent, cpu(event.getStartupStep()), Long::sum);
			}
		}
		Map<Long, Boolean> ours = new HashMap<>();
		for (StartupTimeline.TimelineEvent event : this.events) {
			ours.put(event.getStartupStep().getId(), isOurs(event.getStartupStep()));
		}
		long oursTotal = 0;
		long oursSelf = 0;
		long oursSelfCpu = 0;
		int oursCount = 0;
		List<String> children = new ArrayList<>();
		for (StartupTimeline.TimelineEvent event : this.events) {
			StartupStep step = event.getStartupStep();
			long total = event.getDuration().toNanos();
			long self = total - childNanos.getOrDefault(step.getId(), 0L);
			long totalCpu = cpu(step);
			long selfCpu = Math.max(0, totalCpu - childCpu.getOrDefault(step.getId(), 0L));
			if (!ours.get(step.getId())) {
				Long parent = step.getParentId();
				if (!PostProcessorTimer.STEP.equals(step.getName()) && parent != null
						&& Boolean.TRUE.equals(ours.get(parent))) {
					children.add(String.format(Locale.ROOT, "CHILD %.3f %s %s", ms(total), step.getName(),
							describe(step)));
				}
				continue;
			}
			oursCount++;
			oursSelf += self;
			oursSelfCpu += selfCpu;
			if (!hasOurAncestor(step, byId, ours)) {
				oursTotal += total;
			}
			out.printf(Locale.ROOT, "STEP %.3f %.3f %.3f %.3f %s %s %s%n", ms(total), ms(self), ms(totalCpu),
					ms(selfCpu), step.getName(), describe(step), owner(step));
		}
		children.forEach(out::println);
		// Per wrapped post-processor "processor phase": CPU of its calls, and the wall and CPU
		// time of the steps (bean creations) nested in them.
		Map<String, long[]> phases = new HashMap<>();
		for (StartupTimeline.TimelineEvent event : this.events) {
			StartupStep step = event.getStartupStep();
			if (PostProcessorTimer.STEP.equals(step.getName())) {
				long[] sums = phases.computeIfAbsent(tag(step, "processor") + " " + tag(step, "phase"),
						(key) -> new long[3]);
				sums[0] += cpu(step);
				sums[1] += childNanos.getOrDefault(step.getId(), 0L);
				sums[2] += childCpu.getOrDefault(step.getId(), 0L);
			}
		}
		long[] postProcessors = new long[2];
		if (this.timer != null) {
			for (Map.Entry<String, PostProcessorTimer.Timed> entry : this.timer.timed().entrySet()) {
				String name = entry.getKey();
				PostProcessorTimer.Timed t = entry.getValue();
				String type = t.delegate.getClass().getName();
				phase(out, name, type, "before", t.beforeCalls, t.beforeNanos, phases, postProcessors);
				phase(out, name, type, "after", t.afterCalls, t.afterNanos, phases, postProcessors);
				phase(out, name, type, "smart-initialize", (t.delegate instanceof SmartInitializingSingleton) ? 1 : 0,
						t.smartInitializeNanos, phases, postProcessors);
				phase(out, name, type, "event", t.eventCalls, t.eventNanos, phases, postProcessors);
			}
			this.timer.untimed().forEach((name, type) -> out.printf("BPP-UNTIMED %s %s%n", name, type));
		}
		long allInstantiateSelf = 0;
		long allInstantiateSelfCpu = 0;
		int allInstantiate = 0;
		for (StartupTimeline.TimelineEvent event : this.events) {
			StartupStep step = event.getStartupStep();
			if ("spring.beans.instantiate".equals(step.getName())) {
				allInstantiate++;
				allInstantiateSelf += event.getDuration().toNanos() - childNanos.getOrDefault(step.getId(), 0L);
				allInstantiateSelfCpu += Math.max(0, cpu(step) - childCpu.getOrDefault(step.getId(), 0L));
			}
		}
		out.printf(Locale.ROOT,
				"STEPS recorded=%d ours=%d ours_total_ms=%.3f ours_self_ms=%.3f ours_self_cpu_ms=%.3f all_instantiate=%d all_instantiate_self_ms=%.3f all_instantiate_self_cpu_ms=%.3f%n",
				this.events.size(), oursCount, ms(oursTotal), ms(oursSelf), ms(oursSelfCpu), allInstantiate,
				ms(allInstantiateSelf), ms(allInstantiateSelfCpu));
		out.printf(Locale.ROOT,
				"OURS steps_self_ms=%.3f post_processors_ms=%.3f total_ms=%.3f steps_self_cpu_ms=%.3f post_processors_cpu_ms=%.3f total_cpu_ms=%.3f%n",
				ms(oursSelf), ms(postProcessors[0]), ms(oursSelf + postProcessors[0]), ms(oursSelfCpu),
				ms(postProcessors[1]), ms(oursSelfCpu + postProcessors[1]));
	}

	/** Prints one BPP line and adds the phase's own wall and CPU nanoseconds to sums. */
	private static void phase(PrintStream out, String name, String type, String phase, long calls, long nanos,
			Map<String, long[]> phases, long[] sums) {
		if (calls == 0) {
			return;
		}
		long[] p = phases.getOrDefault(name + " " + phase, new long[3]);
		long own = Math.max(0, nanos - p[1]);
		long ownCpu = Math.max(0, p[0] - p[2]);
		out.printf(Locale.ROOT, "BPP %s %s %s %d %.3f %.3f %.3f %.3f %.3f %.3f%n", name, type, phase, calls, ms(nanos),
				ms(p[1]), ms(own), ms(p[0]), ms(p[2]), ms(ownCpu));
		sums[0] += own;
		sums[1] += ownCpu;
	}

	private boolean hasOurAncestor(StartupStep step, Map<Long, StartupTimeline.TimelineEvent> byId,
			Map<Long, Boolean> ours) {
		Long parent = step.getParentId();
		while (parent != null) {
			if (Boolean.TRUE.equals(ours.get(parent))) {
				return true;
			}
			StartupTimeline.TimelineEvent event = byId.get(parent);
			parent = (event != null) ? event.getStartupStep().getParentId() : null;
		}
		return false;
	}

	private static String tag(StartupStep step, String key) {
		for (StartupStep.Tag tag : step.getTags()) {
			if (key.equals(tag.getKey())) {
				return tag.getValue();
			}
		}
		return null;
	}

	private boolean isOurs(StartupStep step) {
		for (StartupStep.Tag tag : step.getTags()) {
			if (tag.getValue() != null && tag.getValue().contains(this.prefix)) {
				return true;
			}
		}
		String beanName = beanName(step);
		if (beanName == null) {
			return false;
		}
		if (beanName.startsWith(this.prefix) || typeOf(beanName).startsWith(this.prefix)) {
			return true;
		}
		if (this.beanFactory.containsBeanDefinition(beanName)) {
			BeanDefinition definition = this.beanFactory.getMergedBeanDefinition(beanName);
			String factoryBean = definition.getFactoryBeanName();
			if (factoryBean != null && (factoryBean.startsWith(this.prefix) || typeOf(factoryBean).startsWith(this.prefix))) {
				return true;
			}
			String beanClass = definition.getBeanClassName();
			return beanClass != null && beanClass.startsWith(this.prefix);
		}
		return false;
	}

	private static String beanName(StartupStep step) {
		return tag(step, "beanName");
	}

	private String typeOf(String beanName) {
		if (beanName == null) {
			return "-";
		}
		try {
			if (this.beanFactory.getSingleton(beanName) instanceof PostProcessorTimer.Timed timed) {
				return timed.delegate.getClass().getName();
			}
			Class<?> type = this.beanFactory.getType(beanName, false);
			return (type != null) ? type.getName() : "-";
		}
		catch (RuntimeException ex) {
			return "-";
		}
	}

	/**
	 * The class of ours a step is charged to: the bean's type if it is ours, else the
	 * configuration class that defines the bean; a lambda's type is its defining class.
	 */
	private String owner(StartupStep step) {
		String beanName = beanName(step);
		if (beanName == null) {
			for (StartupStep.Tag tag : step.getTags()) {
				if (tag.getValue() != null && tag.getValue().contains(this.prefix)) {
					return tag.getValue();
				}
			}
			return "-";
		}
		String type = typeOf(beanName).replaceFirst("\\$\\$Lambda.*", "");
		if (type.startsWith(this.prefix)) {
			return type;
		}
		if (this.beanFactory.containsBeanDefinition(beanName)) {
			BeanDefinition definition = this.beanFactory.getMergedBeanDefinition(beanName);
			if (definition.getFactoryBeanName() != null) {
				return typeOf(definition.getFactoryBeanName());
			}
			if (definition.getBeanClassName() != null) {
				return definition.getBeanClassName();
			}
		}
		return type;
	}

	private static String describe(StartupStep step) {
		String beanName = beanName(step);
		if (beanName != null) {
			return beanName;
		}
		StringBuilder tags = new StringBuilder();
		for (StartupStep.Tag tag : step.getTags()) {
			tags.append(tags.isEmpty() ? "" : ",").append(tag.getKey()).append('=').append(tag.getValue());
		}
		return tags.isEmpty() ? "-" : tags.toString().replace(' ', '_');
	}

	private static double ms(long nanos) {
		return nanos / 1_000_000.0;
	}

}
